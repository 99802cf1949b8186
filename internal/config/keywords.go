package config

// IsSampleFetch reports whether name is a sample fetch of HAProxy 2.6, so
// that packages compiling expressions can tell a fetch lb lacks from a
// misspelt one.
func IsSampleFetch(name string) bool { return sampleFetches[name] }

// IsACLKeyword reports whether name is an ACL keyword of HAProxy 2.6
// (a fetch with an implied match method, such as "hdr_beg").
func IsACLKeyword(name string) bool { return aclKeywords[name] }

// IsConverter reports whether name is a converter of HAProxy 2.6.
func IsConverter(name string) bool { return sampleConverters[name] }
