package market

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"
)

// Decimal is an exact decimal number: Coef × 10^-Scale. The zero value is 0.
// Values from venues are parsed with ParseDecimal; arithmetic for
// aggregates (volumes, VWAP) goes through Rat.
type Decimal struct {
	Coef  int64
	Scale uint8 // digits after the point, at most MaxScale
}

// MaxScale is the most fractional digits a Decimal holds: the Avro schemas
// carry decimals at scale 18.
const MaxScale = 18

// ErrDecimal is returned for strings that are not exact decimals we can hold.
var ErrDecimal = errors.New("market: not a decimal number")

var pow10 = func() [MaxScale + 1]int64 {
	var p [MaxScale + 1]int64
	p[0] = 1
	for i := 1; i <= MaxScale; i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// ParseDecimal parses a plain decimal string: an optional sign, digits, an
// optional point and digits ("97000.5", "-0.00012", "3"). Exponents, NaN,
// infinities, empty strings and more than MaxScale fractional digits are
// errors; trailing zeros after the point are kept in the scale (so "1.50"
// has scale 2). Nothing is rounded.
func ParseDecimal(s string) (Decimal, error) { return parseDecimal(s) }

// ParseDecimalBytes is ParseDecimal for bytes, without a copy.
func ParseDecimalBytes(b []byte) (Decimal, error) { return parseDecimal(b) }

func parseDecimal[T string | []byte](s T) (Decimal, error) {
	var d Decimal
	if len(s) == 0 {
		return d, fmt.Errorf("%w: empty", ErrDecimal)
	}
	i, neg := 0, false
	switch s[0] {
	case '-':
		neg, i = true, 1
	case '+':
		i = 1
	}
	var coef uint64
	digits, point := 0, false
	for ; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if point {
				return d, fmt.Errorf("%w: %q has two points", ErrDecimal, s)
			}
			point = true
			continue
		}
		if c < '0' || c > '9' {
			return d, fmt.Errorf("%w: %q", ErrDecimal, s)
		}
		hi, lo := bits.Mul64(coef, 10)
		lo, carry := bits.Add64(lo, uint64(c-'0'), 0)
		if hi != 0 || carry != 0 || lo > math.MaxInt64 {
			return d, fmt.Errorf("%w: %q is too large", ErrDecimal, s)
		}
		coef = lo
		digits++
		if point {
			if d.Scale == MaxScale {
				return d, fmt.Errorf("%w: %q has more than %d decimals", ErrDecimal, s, MaxScale)
			}
			d.Scale++
		}
	}
	if digits == 0 {
		return d, fmt.Errorf("%w: %q", ErrDecimal, s)
	}
	d.Coef = int64(coef)
	if neg {
		d.Coef = -d.Coef
	}
	return d, nil
}

// MustDecimal parses s or panics; for constants in tests and fakes.
func MustDecimal(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

// NewDecimal returns coef × 10^-scale.
func NewDecimal(coef int64, scale uint8) Decimal {
	return Decimal{Coef: coef, Scale: min(scale, MaxScale)}
}

// String formats the decimal with exactly Scale fractional digits.
func (d Decimal) String() string {
	return string(d.Append(nil))
}

// Append appends the String form to b.
func (d Decimal) Append(b []byte) []byte {
	u := uint64(d.Coef)
	if d.Coef < 0 {
		b = append(b, '-')
		u = uint64(-d.Coef)
	}
	var buf [24]byte
	digits := strconv.AppendUint(buf[:0], u, 10)
	if d.Scale == 0 {
		return append(b, digits...)
	}
	sc := int(d.Scale)
	if len(digits) <= sc {
		b = append(b, '0', '.')
		for i := len(digits); i < sc; i++ {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
	b = append(b, digits[:len(digits)-sc]...)
	b = append(b, '.')
	return append(b, digits[len(digits)-sc:]...)
}

// IsZero reports whether d is 0 (at any scale).
func (d Decimal) IsZero() bool { return d.Coef == 0 }

// Sign is -1, 0 or 1.
func (d Decimal) Sign() int {
	switch {
	case d.Coef < 0:
		return -1
	case d.Coef > 0:
		return 1
	}
	return 0
}

// Cmp compares two decimals exactly: -1, 0 or 1.
func (d Decimal) Cmp(e Decimal) int {
	if d.Scale == e.Scale {
		switch {
		case d.Coef < e.Coef:
			return -1
		case d.Coef > e.Coef:
			return 1
		}
		return 0
	}
	return d.Rat().Cmp(e.Rat())
}

// Equal reports whether d and e are the same number ("1.5" equals "1.50").
func (d Decimal) Equal(e Decimal) bool { return d.Cmp(e) == 0 }

// Rat returns d as an exact rational, for arithmetic.
func (d Decimal) Rat() *big.Rat {
	return new(big.Rat).SetFrac(big.NewInt(d.Coef), big.NewInt(pow10[d.Scale]))
}

// Unscaled18 returns d × 10^18 as a 128-bit two's-complement integer (hi, lo):
// the unscaled value Avro's decimal(38,18) carries.
func (d Decimal) Unscaled18() (hi int64, lo uint64) {
	u := uint64(d.Coef)
	if d.Coef < 0 {
		u = uint64(-d.Coef)
	}
	h, l := bits.Mul64(u, uint64(pow10[MaxScale-d.Scale]))
	if d.Coef < 0 { // negate the 128-bit value
		l = ^l + 1
		h = ^h
		if l == 0 {
			h++
		}
	}
	return int64(h), l
}

// DecimalFromRat converts an exact rational with a terminating decimal
// expansion of at most MaxScale digits (and a coefficient that fits) to a
// Decimal at the smallest scale that holds it. Others are errors: nothing is
// rounded. Use RoundRat for quotients like VWAP.
func DecimalFromRat(r *big.Rat) (Decimal, error) {
	num, den := new(big.Int).Set(r.Num()), r.Denom()
	for scale := uint8(0); scale <= MaxScale; scale++ {
		if new(big.Int).Rem(num, den).Sign() == 0 {
			q := new(big.Int).Quo(num, den)
			if !q.IsInt64() {
				return Decimal{}, fmt.Errorf("%w: %s is too large", ErrDecimal, r.FloatString(MaxScale))
			}
			return Decimal{Coef: q.Int64(), Scale: scale}, nil
		}
		num.Mul(num, big.NewInt(10))
	}
	return Decimal{}, fmt.Errorf("%w: %s needs more than %d decimals", ErrDecimal, r.RatString(), MaxScale)
}

// RoundRat rounds r half away from zero to scale digits (for quotients such
// as VWAP, which are not terminating decimals).
func RoundRat(r *big.Rat, scale uint8) (Decimal, error) {
	scale = min(scale, MaxScale)
	num := new(big.Int).Mul(r.Num(), big.NewInt(pow10[scale]))
	q, m := new(big.Int).QuoRem(num, r.Denom(), new(big.Int))
	m.Abs(m).Lsh(m, 1)
	if m.Cmp(r.Denom()) >= 0 {
		if r.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	if !q.IsInt64() {
		return Decimal{}, fmt.Errorf("%w: %s is too large", ErrDecimal, r.FloatString(int(scale)))
	}
	return Decimal{Coef: q.Int64(), Scale: scale}, nil
}

// DecimalFromUnscaled18 converts Avro decimal(38,18) bytes (big-endian
// two's complement) back to a Decimal at the smallest exact scale.
func DecimalFromUnscaled18(b []byte) (Decimal, error) {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
	}
	return DecimalFromRat(new(big.Rat).SetFrac(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(MaxScale), nil)))
}
