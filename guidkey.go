package redeliver

import (
	"crypto/sha256"
	"encoding/hex"
)

// guidKey is a guid in 16 bytes: a UUID's own bytes (GitHub's guids are
// UUIDs), or else the first 16 bytes of its SHA-256.
type guidKey [16]byte

func keyOf(guid string) guidKey {
	var k guidKey
	if len(guid) == 36 && guid[8] == '-' && guid[13] == '-' && guid[18] == '-' && guid[23] == '-' {
		ok := true
		for i, seg := range [][2]int{{0, 8}, {9, 13}, {14, 18}, {19, 23}, {24, 36}} {
			at := [...]int{0, 4, 6, 8, 10}[i]
			if _, err := hex.Decode(k[at:], []byte(guid[seg[0]:seg[1]])); err != nil {
				ok = false
				break
			}
		}
		if ok {
			return k
		}
	}
	sum := sha256.Sum256([]byte(guid))
	copy(k[:], sum[:16])
	return k
}
