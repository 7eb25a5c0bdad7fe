package market

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"
)

// Decimal is an exact decimal number: ±coefficient × 10^-Scale, with a
// 128-bit coefficient, so that it holds every value the Avro type
// decimal(38,18) holds: up to 20 integer digits and up to 18 fractional
// digits (38 in all). The zero value is 0. Values from venues are parsed
// with ParseDecimal; arithmetic for aggregates (volumes, VWAP) goes
// through Rat. Two Decimals are == when they have the same value and
// scale ("1.5" and "1.50" are Equal but not ==).
type Decimal struct {
	hi, lo uint64 // magnitude, < 10^(MaxIntDigits+Scale)
	neg    bool   // never set for 0
	Scale  uint8  // digits after the point, at most MaxScale
}

// MaxScale is the most fractional digits a Decimal holds: the Avro schemas
// carry decimals at scale 18.
const MaxScale = 18

// MaxIntDigits is the most integer digits a Decimal holds: decimal(38,18)
// leaves 38−18 for the integer part.
const MaxIntDigits = 38 - MaxScale

// ErrDecimal is returned for strings that are not exact decimals we can hold.
var ErrDecimal = errors.New("market: not a decimal number")

var pow10 = func() [MaxScale + 1]uint64 {
	var p [MaxScale + 1]uint64
	p[0] = 1
	for i := 1; i <= MaxScale; i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// pow10w[n] is 10^n as a 128-bit (hi, lo) pair, n ≤ 38.
var pow10w = func() [39][2]uint64 {
	var p [39][2]uint64
	p[0] = [2]uint64{0, 1}
	for i := 1; i <= 38; i++ {
		p[i][0], p[i][1] = mul128(p[i-1][0], p[i-1][1], 10)
	}
	return p
}()

// mul128 returns (hi, lo) × m; the caller keeps the product below 2^128.
func mul128(hi, lo, m uint64) (uint64, uint64) {
	h, l := bits.Mul64(lo, m)
	return h + hi*m, l
}

func less128(ahi, alo, bhi, blo uint64) bool { return ahi < bhi || (ahi == bhi && alo < blo) }

// fits reports whether a magnitude at scale is within decimal(38,18).
func fits(hi, lo uint64, scale uint8) bool {
	lim := pow10w[MaxIntDigits+int(scale)]
	return less128(hi, lo, lim[0], lim[1])
}

// ParseDecimal parses a plain decimal string: an optional sign, digits, an
// optional point and digits ("97000.5", "-0.00012", "3"). Exponents, NaN,
// infinities, empty strings, more than MaxIntDigits integer digits and
// non-zero digits past MaxScale fractional digits are errors (zeros past
// MaxScale are dropped, which changes no value); other trailing zeros after
// the point are kept in the scale (so "1.50" has scale 2). Nothing is
// rounded.
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
	var hi, lo uint64
	digits, intDigits, point := 0, 0, false
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
		digits++
		if point && d.Scale == MaxScale {
			if c != '0' {
				return d, fmt.Errorf("%w: %q has more than %d decimals", ErrDecimal, s, MaxScale)
			}
			continue
		}
		if !point && (intDigits > 0 || c != '0') {
			if intDigits++; intDigits > MaxIntDigits {
				return d, fmt.Errorf("%w: %q has more than %d integer digits (decimal(38,18))", ErrDecimal, s, MaxIntDigits)
			}
		}
		hi, lo = mul128(hi, lo, 10)
		var carry uint64
		lo, carry = bits.Add64(lo, uint64(c-'0'), 0)
		hi += carry
		if point {
			d.Scale++
		}
	}
	if digits == 0 {
		return d, fmt.Errorf("%w: %q", ErrDecimal, s)
	}
	d.hi, d.lo = hi, lo
	d.neg = neg && (hi|lo) != 0
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

// NewDecimal returns coef × 10^-scale (scale at most MaxScale).
func NewDecimal(coef int64, scale uint8) Decimal {
	d := Decimal{lo: uint64(coef), Scale: min(scale, MaxScale)}
	if coef < 0 {
		d.lo, d.neg = uint64(-coef), true // -MinInt64 wraps to its magnitude
	}
	return d
}

// Int64 returns the coefficient (the value × 10^Scale) when it fits in an
// int64.
func (d Decimal) Int64() (coef int64, ok bool) {
	if d.hi != 0 || d.lo > math.MaxInt64+uint64(b2u(d.neg)) {
		return 0, false
	}
	if d.neg {
		return -int64(d.lo), true
	}
	return int64(d.lo), true
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// String formats the decimal with exactly Scale fractional digits.
func (d Decimal) String() string {
	var buf [48]byte
	return string(d.Append(buf[:0]))
}

// appendMag appends a 128-bit magnitude below 10^38 in decimal.
func appendMag(b []byte, hi, lo uint64) []byte {
	if hi == 0 {
		return strconv.AppendUint(b, lo, 10)
	}
	const e19 = 10_000_000_000_000_000_000
	q, r := bits.Div64(hi, lo, e19) // hi < 10^19 because the magnitude < 10^38
	b = strconv.AppendUint(b, q, 10)
	var tail [19]byte
	for i := 18; i >= 0; i-- {
		tail[i] = byte('0' + r%10)
		r /= 10
	}
	return append(b, tail[:]...)
}

// Append appends the String form to b.
func (d Decimal) Append(b []byte) []byte {
	if d.neg {
		b = append(b, '-')
	}
	var buf [40]byte
	digits := appendMag(buf[:0], d.hi, d.lo)
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
func (d Decimal) IsZero() bool { return d.hi|d.lo == 0 }

// Sign is -1, 0 or 1.
func (d Decimal) Sign() int {
	switch {
	case d.neg:
		return -1
	case d.hi|d.lo != 0:
		return 1
	}
	return 0
}

// mag18 is the magnitude × 10^(18−Scale), below 10^38.
func (d Decimal) mag18() (uint64, uint64) {
	if d.Scale == MaxScale {
		return d.hi, d.lo
	}
	return mul128(d.hi, d.lo, pow10[MaxScale-d.Scale])
}

// Cmp compares two decimals exactly: -1, 0 or 1.
func (d Decimal) Cmp(e Decimal) int {
	ds, es := d.Sign(), e.Sign()
	if ds != es {
		if ds < es {
			return -1
		}
		return 1
	}
	ahi, alo := d.mag18()
	bhi, blo := e.mag18()
	c := 0
	switch {
	case less128(ahi, alo, bhi, blo):
		c = -1
	case less128(bhi, blo, ahi, alo):
		c = 1
	}
	if ds < 0 {
		c = -c
	}
	return c
}

// Equal reports whether d and e are the same number ("1.5" equals "1.50").
func (d Decimal) Equal(e Decimal) bool { return d.Cmp(e) == 0 }

// BigInt returns the signed coefficient (the value × 10^Scale).
func (d Decimal) BigInt() *big.Int {
	n := new(big.Int).SetUint64(d.hi)
	n.Lsh(n, 64).Or(n, new(big.Int).SetUint64(d.lo))
	if d.neg {
		n.Neg(n)
	}
	return n
}

// Rat returns d as an exact rational, for arithmetic.
func (d Decimal) Rat() *big.Rat {
	return new(big.Rat).SetFrac(d.BigInt(), new(big.Int).SetUint64(pow10[d.Scale]))
}

// Unscaled18 returns d × 10^18 as a 128-bit two's-complement integer (hi, lo):
// the unscaled value Avro's decimal(38,18) carries.
func (d Decimal) Unscaled18() (hi int64, lo uint64) {
	h, l := d.mag18()
	if d.neg { // negate the 128-bit value
		l = ^l + 1
		h = ^h
		if l == 0 {
			h++
		}
	}
	return int64(h), l
}

// DecimalFromBig returns coef × 10^-scale, or an error if it is outside
// decimal(38,18).
func DecimalFromBig(coef *big.Int, scale uint8) (Decimal, error) {
	if scale > MaxScale {
		return Decimal{}, fmt.Errorf("%w: scale %d is more than %d", ErrDecimal, scale, MaxScale)
	}
	if coef.BitLen() > 128 {
		return Decimal{}, fmt.Errorf("%w: %s×10^-%d is too large for decimal(38,18)", ErrDecimal, coef, scale)
	}
	var buf [16]byte
	new(big.Int).Abs(coef).FillBytes(buf[:])
	d := Decimal{Scale: scale, neg: coef.Sign() < 0}
	d.hi, d.lo = beUint64(buf[:8]), beUint64(buf[8:])
	if !fits(d.hi, d.lo, scale) {
		return Decimal{}, fmt.Errorf("%w: %s×10^-%d is too large for decimal(38,18)", ErrDecimal, coef, scale)
	}
	return d, nil
}

func beUint64(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// DecimalFromRat converts an exact rational with a terminating decimal
// expansion of at most MaxScale digits (within decimal(38,18)) to a Decimal
// at the smallest scale that holds it. Others are errors: nothing is
// rounded. Use RoundRat for quotients like VWAP.
func DecimalFromRat(r *big.Rat) (Decimal, error) {
	num, den := new(big.Int).Set(r.Num()), r.Denom()
	for scale := uint8(0); scale <= MaxScale; scale++ {
		if new(big.Int).Rem(num, den).Sign() == 0 {
			return DecimalFromBig(new(big.Int).Quo(num, den), scale)
		}
		num.Mul(num, big.NewInt(10))
	}
	return Decimal{}, fmt.Errorf("%w: %s needs more than %d decimals", ErrDecimal, r.RatString(), MaxScale)
}

// RoundRat rounds r half away from zero to scale digits (for quotients such
// as VWAP, which are not terminating decimals).
func RoundRat(r *big.Rat, scale uint8) (Decimal, error) {
	scale = min(scale, MaxScale)
	num := new(big.Int).Mul(r.Num(), new(big.Int).SetUint64(pow10[scale]))
	q, m := new(big.Int).QuoRem(num, r.Denom(), new(big.Int))
	m.Abs(m).Lsh(m, 1)
	if m.Cmp(r.Denom()) >= 0 {
		if r.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return DecimalFromBig(q, scale)
}

// DecimalFromUnscaled18 converts Avro decimal(38,18) bytes (big-endian
// two's complement) back to a Decimal at the smallest exact scale, without
// allocating.
func DecimalFromUnscaled18(b []byte) (Decimal, error) {
	if len(b) > 16 {
		return Decimal{}, fmt.Errorf("%w: %d bytes is more than decimal(38,18) holds", ErrDecimal, len(b))
	}
	var hi, lo uint64
	if len(b) > 0 && b[0]&0x80 != 0 {
		hi, lo = math.MaxUint64, math.MaxUint64 // sign extension
	}
	for _, c := range b {
		hi = hi<<8 | lo>>56
		lo = lo<<8 | uint64(c)
	}
	d := Decimal{Scale: MaxScale}
	if int64(hi) < 0 {
		d.neg = true
		lo = ^lo + 1
		hi = ^hi
		if lo == 0 {
			hi++
		}
	}
	if !fits(hi, lo, MaxScale) {
		return Decimal{}, fmt.Errorf("%w: the unscaled value has more than 38 digits", ErrDecimal)
	}
	for d.Scale > 0 && (hi|lo) != 0 {
		qh, rh := hi/10, hi%10
		ql, r := bits.Div64(rh, lo, 10)
		if r != 0 {
			break
		}
		hi, lo = qh, ql
		d.Scale--
	}
	if hi|lo == 0 {
		return Decimal{}, nil
	}
	d.hi, d.lo = hi, lo
	return d, nil
}
