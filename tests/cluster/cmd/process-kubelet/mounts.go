package main

import "strings"

// hostPath points a path inside the container at the directory holding its volume's files when it lies under
// a volume's mountPath (the deepest one): the process has no mount namespace of its own. Other values are
// returned as they are.
func hostPath(value string, mounts map[string]string) string {
	best := ""
	for mountPath := range mounts {
		under := value == mountPath || strings.HasPrefix(value, strings.TrimSuffix(mountPath, "/")+"/")
		if under && len(mountPath) > len(best) {
			best = mountPath
		}
	}
	if best == "" {
		return value
	}
	return mounts[best] + strings.TrimPrefix(value, strings.TrimSuffix(best, "/"))
}

// hostArg applies hostPath to an argument that is a path, or to the value of a flag written as one word
// (--admin-token-file=/etc/mirrorgate/admin/token).
func hostArg(arg string, mounts map[string]string) string {
	if name, value, found := strings.Cut(arg, "="); found && strings.HasPrefix(name, "-") {
		return name + "=" + hostPath(value, mounts)
	}
	return hostPath(arg, mounts)
}

// rewriteArgs applies hostArg to the command's arguments (not to the program, argv[0], which is ours).
func rewriteArgs(argv []string, mounts map[string]string) {
	for i := 1; i < len(argv); i++ {
		argv[i] = hostArg(argv[i], mounts)
	}
}
