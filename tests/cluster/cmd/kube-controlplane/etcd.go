package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/apiserver/pkg/storage/etcd3"
)

func loopbackURL(port int) url.URL {
	return url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", port)}
}

// runEtcd runs a single-member etcd on loopback until SIGTERM or SIGINT. Its data lives in DIR/etcd, so a
// stopped and restarted API server finds every object again.
func runEtcd(args []string) error {
	fs := flag.NewFlagSet("etcd", flag.ExitOnError)
	dir := fs.String("dir", "", "cluster state directory")
	clientPort := fs.Int("client-port", 0, "client port on 127.0.0.1")
	peerPort := fs.Int("peer-port", 0, "peer port on 127.0.0.1 (single member, but etcd needs one)")
	_ = fs.Parse(args)
	if *dir == "" || *clientPort == 0 || *peerPort == 0 {
		return fmt.Errorf("--dir, --client-port and --peer-port are required")
	}

	cfg := embed.NewConfig()
	cfg.Name = "mirrorgate-test"
	cfg.Dir = filepath.Join(*dir, "etcd")
	cfg.ListenClientUrls = []url.URL{loopbackURL(*clientPort)}
	cfg.AdvertiseClientUrls = cfg.ListenClientUrls
	cfg.ListenPeerUrls = []url.URL{loopbackURL(*peerPort)}
	cfg.AdvertisePeerUrls = cfg.ListenPeerUrls
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{"stderr"}
	// A throw-away test cluster: fsync buys nothing here and costs seconds on a slow disk.
	cfg.UnsafeNoFsync = true

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
		fmt.Fprintf(os.Stderr, "etcd ready on %s (data %s)\n", cfg.ListenClientUrls[0].String(), cfg.Dir)
	case <-time.After(60 * time.Second):
		e.Server.Stop()
		return fmt.Errorf("etcd not ready after 60 s")
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-sig:
		fmt.Fprintf(os.Stderr, "etcd stopping (%v)\n", s)
		return nil
	case err := <-e.Err():
		return err
	}
}

// runCompact compacts etcd at its current revision the way the API server's own compactor does every
// --etcd-compaction-interval (k8s.io/apiserver/pkg/storage/etcd3.Compact): it records the revision under
// compact_rev_key, which every API server watches to learn what is gone (snapshots of the watch cache older
// than it are dropped), then compacts. Every older revision is then gone from etcd: a list at such a
// resourceVersion is 410 Expired, and so is a watch from one, unless the API server's watch cache still holds
// that version.
func runCompact(args []string) error {
	fs := flag.NewFlagSet("compact", flag.ExitOnError)
	clientPort := fs.Int("client-port", 0, "etcd client port on 127.0.0.1")
	_ = fs.Parse(args)
	if *clientPort == 0 {
		return fmt.Errorf("--client-port is required")
	}
	endpoint := loopbackURL(*clientPort)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint.String()}, DialTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The compare-and-swap on compact_rev_key's version can lose to the API server's own compactor: then
	// read again and retry.
	for attempt := 0; attempt < 5; attempt++ {
		resp, err := cli.Get(ctx, "compact_rev_key")
		if err != nil {
			return err
		}
		var version int64
		if len(resp.Kvs) > 0 {
			version = resp.Kvs[0].Version
		}
		rev := resp.Header.Revision
		newVersion, _, compacted, err := etcd3.Compact(ctx, cli, version, rev)
		if err != nil {
			return err
		}
		if newVersion == version+1 && compacted == rev {
			fmt.Println(rev)
			return nil
		}
	}
	return fmt.Errorf("compact_rev_key kept changing under us")
}
