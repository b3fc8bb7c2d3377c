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

// rewriteArgs applies hostPath to the command's arguments (not to the program, argv[0], which is ours).
func rewriteArgs(argv []string, mounts map[string]string) {
	for i := 1; i < len(argv); i++ {
		argv[i] = hostPath(argv[i], mounts)
	}
}
