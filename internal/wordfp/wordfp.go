// Package wordfp is HAProxy's word fingerprint, by which it suggests a
// keyword or a command close to a misspelled one ("did you mean … maybe ?"):
// the counts of the transitions between character classes (a letter, a
// digit, anything else, a word's start and end); two fingerprints are as far
// apart as the sum of the differences of their counts (HAProxy's tools.c,
// update_word_fingerprint and word_fingerprint_distance).
package wordfp

// Fingerprint is one word's (or several words') transition counts.
type Fingerprint [1024]uint8

// Update adds word to fp.
func (fp *Fingerprint) Update(word string) {
	from := 28 // the start
	for i := 0; i < len(word); i++ {
		c := word[i]
		var to int
		switch {
		case c >= 'a' && c <= 'z':
			to = int(c-'a') + 1
		case c >= 'A' && c <= 'Z':
			to = int(c-'A') + 1
		case c >= '0' && c <= '9':
			to = 27
		default:
			to = 28
		}
		fp[32*from+to]++
		from = to
	}
	fp[32*from+28]++ // the end
}

// Of returns the fingerprint of word.
func Of(word string) Fingerprint {
	var fp Fingerprint
	fp.Update(word)
	return fp
}

// Distance is the sum of the differences of the counts of fp and o.
func (fp *Fingerprint) Distance(o *Fingerprint) int {
	d := 0
	for i := range fp {
		k := int(fp[i]) - int(o[i])
		if k < 0 {
			k = -k
		}
		d += k
	}
	return d
}
