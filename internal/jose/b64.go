package jose

import "encoding/binary"

// b64tab maps a byte to its base64url value (RFC 4648 §5), 0xff for bytes
// outside the alphabet. A constant string, so it cannot be modified.
const b64tab = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x3e\xff\xff\x34\x35\x36\x37\x38\x39\x3a\x3b\x3c\x3d\xff\xff\xff\xff\xff\xff" +
	"\xff\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\xff\xff\xff\xff\x3f" +
	"\xff\x1a\x1b\x1c\x1d\x1e\x1f\x20\x21\x22\x23\x24\x25\x26\x27\x28\x29\x2a\x2b\x2c\x2d\x2e\x2f\x30\x31\x32\x33\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"

// b64val maps a base64url character to its value, or 0xff.
func b64val(c byte) uint32 { return uint32(b64tab[c]) }

// DecodedLen returns the decoded length of n base64url characters, or -1
// when n cannot be the length of an unpadded encoding.
func DecodedLen(n int) int {
	switch n % 4 {
	case 0:
		return n / 4 * 3
	case 2:
		return n/4*3 + 1
	case 3:
		return n/4*3 + 2
	}
	return -1
}

// Decode decodes canonical unpadded base64url (RFC 7515 §2) from src into
// dst, which must have length DecodedLen(len(src)). Padding, whitespace, any
// other character and non-zero unused trailing bits are refused, so every
// byte string has exactly one accepted spelling.
func Decode(dst []byte, src string) bool {
	n := len(src) / 4 * 4
	i, j := 0, 0
	// Eight characters into six bytes at a time.
	for ; i+8 <= n && j+8 <= len(dst); i, j = i+8, j+6 {
		q := src[i : i+8] // one bounds check for the eight loads
		a, b, c, d := b64val(q[0]), b64val(q[1]), b64val(q[2]), b64val(q[3])
		e, f, g, h := b64val(q[4]), b64val(q[5]), b64val(q[6]), b64val(q[7])
		if a|b|c|d|e|f|g|h > 63 {
			return false
		}
		v := uint64(a)<<58 | uint64(b)<<52 | uint64(c)<<46 | uint64(d)<<40 |
			uint64(e)<<34 | uint64(f)<<28 | uint64(g)<<22 | uint64(h)<<16
		binary.BigEndian.PutUint64(dst[j:], v) // the last two bytes are overwritten next
	}
	for ; i < n; i += 4 {
		a, b, c, e := b64val(src[i]), b64val(src[i+1]), b64val(src[i+2]), b64val(src[i+3])
		if a|b|c|e > 63 {
			return false
		}
		v := a<<18 | b<<12 | c<<6 | e
		dst[j] = byte(v >> 16)
		dst[j+1] = byte(v >> 8)
		dst[j+2] = byte(v)
		j += 3
	}
	switch len(src) - n {
	case 0:
	case 2:
		a, b := b64val(src[n]), b64val(src[n+1])
		if a|b > 63 || b&0x0f != 0 {
			return false
		}
		dst[j] = byte(a<<2 | b>>4)
	case 3:
		a, b, c := b64val(src[n]), b64val(src[n+1]), b64val(src[n+2])
		if a|b|c > 63 || c&0x03 != 0 {
			return false
		}
		dst[j] = byte(a<<2 | b>>4)
		dst[j+1] = byte(b<<4 | c>>2)
	default:
		return false
	}
	return true
}

// DecodeString decodes canonical unpadded base64url into a new slice.
func DecodeString(src string) ([]byte, bool) {
	n := DecodedLen(len(src))
	if n < 0 {
		return nil, false
	}
	b := make([]byte, n)
	return b, Decode(b, src)
}
