//go:build !linux

package proxy

// copyDir copies src to dst; outside Linux the portable copier is used.
func copyDir(o CopyOwner, src, dst *Side, limit int64) (int64, CopyEnd) {
	return copyGeneric(o, src, dst, limit)
}
