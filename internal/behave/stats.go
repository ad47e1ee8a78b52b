package behave

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"math"
	"slices"
)

// meanStdev is the mean and population standard deviation of xs.
func meanStdev(xs []float64) (mean, sd float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(xs)))
}

// median of xs (which it sorts a copy of); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	c := slices.Clone(xs)
	slices.Sort(c)
	n := len(c)
	if n%2 == 1 {
		return c[n/2]
	}
	return (c[n/2-1] + c[n/2]) / 2
}

// digraphBucketEdges are the flight-time bucket edges of the digraph
// simhash, in seconds (spec §3.4).
var digraphBucketEdges = []float64{0.03, 0.06, 0.12, 0.25, 0.5, 1.0}

func digraphBucket(dt float64) int {
	for i, e := range digraphBucketEdges {
		if dt <= e {
			return i
		}
	}
	return len(digraphBucketEdges)
}

// simhash is Charikar's 64-bit SimHash of weighted tokens, each token
// hashed to the first 8 bytes (big-endian) of its MD5, as 16 hex digits.
// Similar typing rhythms give hashes a small Hamming distance apart.
func simhash(tokens map[string]int) string {
	var v [64]int64
	for tok, w := range tokens {
		sum := md5.Sum([]byte(tok))
		h := binary.BigEndian.Uint64(sum[:8])
		for i := range 64 {
			if h&(1<<uint(i)) != 0 {
				v[i] += int64(w)
			} else {
				v[i] -= int64(w)
			}
		}
	}
	var out uint64
	for i := range 64 {
		if v[i] > 0 {
			out |= 1 << uint(i)
		}
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], out)
	return hex.EncodeToString(b[:])
}

// round3 rounds to three decimals, the precision of numeric values.
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
