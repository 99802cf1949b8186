package config

import (
	"iter"
	"lb/internal/wordfp"
	"maps"
	"slices"
)

// HAProxy 2.6 follows an "unknown keyword" alert with "; did you mean 'X'
// maybe ?" when a known keyword is close to the word written. Closeness is
// its word fingerprint: the counts of the character-class transitions of
// the word (letters, digits, others, start, end); the distance of two words
// is the sum of the differences of their counts (tools.c,
// make_word_fingerprint and word_fingerprint_distance). The best keyword is
// kept when the distance is at most twice the length of either word.

// bestMatch returns the candidate HAProxy would suggest for word, or "".
// Candidates are tried in lexical order; the first of equally close ones
// wins.
func bestMatch(word string, candidates iter.Seq[string]) string {
	w := wordfp.Of(word)
	best, bestDist := "", int(^uint(0)>>1)
	for _, k := range slices.Sorted(candidates) {
		c := wordfp.Of(k)
		if d := w.Distance(&c); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" || bestDist > 2*len(word) || bestDist > 2*len(best) {
		return ""
	}
	return best
}

// Section names HAProxy adds to the keywords it suggests from (its
// common_kw_list of the global and of the proxy sections).
var (
	globalExtraWords = []string{"global", "defaults", "listen", "frontend", "backend", "peers", "resolvers"}
	proxyExtraWords  = []string{"listen", "frontend", "backend", "defaults"}
)

// didYouMean is the hint appended to an "unknown keyword" alert: "; did
// you mean 'X' maybe ?", or "" when no keyword is close enough.
func didYouMean[V any](word string, table map[string]V, extra ...string) string {
	words := func(yield func(string) bool) {
		for k := range maps.Keys(table) {
			if !yield(k) {
				return
			}
		}
		for _, k := range extra {
			if !yield(k) {
				return
			}
		}
	}
	if m := bestMatch(word, words); m != "" {
		return "; did you mean '" + m + "' maybe ?"
	}
	return ""
}
