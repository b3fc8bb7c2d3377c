package main

import (
	"crypto"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
	kubeadmapi "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm"
	"k8s.io/kubernetes/cmd/kubeadm/app/util/kubeconfig"
	"k8s.io/kubernetes/cmd/kubeadm/app/util/pkiutil"
)

// The certificates are kubeadm's (same package, same key algorithm, same names under pki/), so the gateway
// meets what a kubeadm cluster presents. They are made once per cluster directory and kept: a restarted API
// server serves the same CA, and kubeconfigs handed out before stay valid.

const (
	clusterName = "mirrorgate-test"
	adminUser   = "kubernetes-admin"
	keyAlgo     = kubeadmapi.EncryptionAlgorithmRSA2048
	// serviceIP is the first address of --service-cluster-ip-range, the Service "kubernetes" (which the API
	// server does not create with --endpoint-reconciler-type=none, but in-cluster clients dial it by this name).
	serviceIP = "10.96.0.1"
)

func pkiDir(dir string) string { return filepath.Join(dir, "pki") }

func serverURL(port int) string { return fmt.Sprintf("https://127.0.0.1:%d", port) }

// loadOrCreateCA returns the CA named name under pki/, creating it when absent.
func loadOrCreateCA(dir, name, commonName string) (*x509.Certificate, crypto.Signer, error) {
	if pkiutil.CertOrKeyExist(pkiDir(dir), name) {
		return pkiutil.TryLoadCertAndKeyFromDisk(pkiDir(dir), name)
	}
	cert, key, err := pkiutil.NewCertificateAuthority(&pkiutil.CertConfig{
		Config:              certutil.Config{CommonName: commonName},
		NotAfter:            time.Now().Add(10 * 365 * 24 * time.Hour),
		EncryptionAlgorithm: keyAlgo,
	})
	if err != nil {
		return nil, nil, err
	}
	return cert, key, pkiutil.WriteCertAndKey(pkiDir(dir), name, cert, key)
}

// ensureLeaf creates the certificate name, signed by the given CA, unless it exists.
func ensureLeaf(dir, name string, caCert *x509.Certificate, caKey crypto.Signer, cfg certutil.Config) error {
	if pkiutil.CertOrKeyExist(pkiDir(dir), name) {
		return nil
	}
	cert, key, err := pkiutil.NewCertAndKey(caCert, caKey, &pkiutil.CertConfig{Config: cfg, EncryptionAlgorithm: keyAlgo})
	if err != nil {
		return err
	}
	return pkiutil.WriteCertAndKey(pkiDir(dir), name, cert, key)
}

// servesIPs is whether the certificate name under pki/ exists and carries every one of ips.
func servesIPs(dir, name string, ips []net.IP) bool {
	certs, err := certutil.CertsFromFile(filepath.Join(pkiDir(dir), name+".crt"))
	if err != nil || len(certs) == 0 {
		return false
	}
	for _, want := range ips {
		found := false
		for _, have := range certs[0].IPAddresses {
			found = found || have.Equal(want)
		}
		if !found {
			return false
		}
	}
	return true
}

// clientKubeconfig is a kubeconfig for user (groups as the certificate's organizations) signed by the cluster CA.
func clientKubeconfig(dir string, port int, user string, groups []string) (*clientcmdapi.Config, error) {
	caCert, caKey, err := pkiutil.TryLoadCertAndKeyFromDisk(pkiDir(dir), "ca")
	if err != nil {
		return nil, fmt.Errorf("no cluster CA under %s (run pki first): %w", pkiDir(dir), err)
	}
	cert, key, err := pkiutil.NewCertAndKey(caCert, caKey, &pkiutil.CertConfig{
		Config: certutil.Config{
			CommonName:   user,
			Organization: groups,
			Usages:       []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		},
		EncryptionAlgorithm: keyAlgo,
	})
	if err != nil {
		return nil, err
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, err
	}
	return kubeconfig.CreateWithCerts(serverURL(port), clusterName, user, pkiutil.EncodeCertPEM(caCert), keyPEM,
		pkiutil.EncodeCertPEM(cert)), nil
}

func runPKI(args []string) error {
	fs := flag.NewFlagSet("pki", flag.ExitOnError)
	dir := fs.String("dir", "", "cluster state directory")
	port := fs.Int("api-port", 0, "API server secure port (for admin.kubeconfig)")
	var extraIPs stringList
	fs.Var(&extraIPs, "apiserver-ip", "another address of the API server's serving certificate (repeatable): the "+
		"node's, where the process-kubelet relays pods to it")
	_ = fs.Parse(args)
	if *dir == "" || *port == 0 {
		return fmt.Errorf("--dir and --api-port are required")
	}
	if err := os.MkdirAll(pkiDir(*dir), 0o700); err != nil {
		return err
	}

	caCert, caKey, err := loadOrCreateCA(*dir, "ca", "kubernetes")
	if err != nil {
		return err
	}
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1"), net.ParseIP(serviceIP)}
	for _, a := range extraIPs {
		ip := net.ParseIP(a)
		if ip == nil {
			return fmt.Errorf("--apiserver-ip %q: not an IP address", a)
		}
		ips = append(ips, ip)
	}
	// A certificate of an older start that lacks an address asked for now is made anew (the API server
	// reloads its serving certificate when the file changes).
	if !servesIPs(*dir, "apiserver", ips) {
		_ = os.Remove(filepath.Join(pkiDir(*dir), "apiserver.crt"))
		_ = os.Remove(filepath.Join(pkiDir(*dir), "apiserver.key"))
	}
	err = ensureLeaf(*dir, "apiserver", caCert, caKey, certutil.Config{
		CommonName: "kube-apiserver",
		AltNames: certutil.AltNames{
			DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
				"kubernetes.default.svc.cluster.local"},
			IPs: ips,
		},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return err
	}

	// The API server's client certificate towards kubelets (kubeadm's apiserver-kubelet-client): the
	// process-kubelet's log endpoint accepts clients of the cluster CA.
	err = ensureLeaf(*dir, "apiserver-kubelet-client", caCert, caKey, certutil.Config{
		CommonName: "kube-apiserver-kubelet-client",
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return err
	}

	// The aggregation layer's front proxy, as kubeadm sets it up: without it the API server cannot
	// authenticate to aggregated API servers and says so at start.
	fpCert, fpKey, err := loadOrCreateCA(*dir, "front-proxy-ca", "front-proxy-ca")
	if err != nil {
		return err
	}
	err = ensureLeaf(*dir, "front-proxy-client", fpCert, fpKey, certutil.Config{
		CommonName: "front-proxy-client",
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return err
	}

	// Service-account token signing key pair (kubeadm's sa.key / sa.pub).
	if _, err := os.Stat(filepath.Join(pkiDir(*dir), "sa.key")); os.IsNotExist(err) {
		key, err := pkiutil.NewPrivateKey(keyAlgo)
		if err != nil {
			return err
		}
		if err := pkiutil.WriteKey(pkiDir(*dir), "sa", key); err != nil {
			return err
		}
		if err := pkiutil.WritePublicKey(pkiDir(*dir), "sa", key.Public()); err != nil {
			return err
		}
	}

	// The admin kubeconfig is written at every start, since the port may have changed; its user is in
	// system:masters, which the RBAC authorizer lets do anything.
	admin, err := clientKubeconfig(*dir, *port, adminUser, []string{"system:masters"})
	if err != nil {
		return err
	}
	return kubeconfig.WriteToDisk(filepath.Join(*dir, "admin.kubeconfig"), admin)
}

func runKubeconfig(args []string) error {
	fs := flag.NewFlagSet("kubeconfig", flag.ExitOnError)
	dir := fs.String("dir", "", "cluster state directory")
	port := fs.Int("api-port", 0, "API server secure port")
	user := fs.String("user", "", "user name (the certificate's common name)")
	var groups stringList
	fs.Var(&groups, "group", "group (the certificate's organization); repeatable")
	_ = fs.Parse(args)
	if *dir == "" || *port == 0 || *user == "" {
		return fmt.Errorf("--dir, --api-port and --user are required")
	}
	cfg, err := clientKubeconfig(*dir, *port, *user, groups)
	if err != nil {
		return err
	}
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(out)
	return err
}

type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
