package market

import (
	"encoding/binary"
	"math/big"
	"testing"
)

func TestParseDecimal(t *testing.T) {
	for _, c := range []struct {
		in   string
		coef int64
		sc   uint8
		out  string
	}{
		{"97000.5", 970005, 1, "97000.5"},
		{"0.00012", 12, 5, "0.00012"},
		{"-1.50", -150, 2, "-1.50"},
		{"3", 3, 0, "3"},
		{"+7.0", 70, 1, "7.0"},
		{"0.000000000000000001", 1, 18, "0.000000000000000001"},
		{"9223372036854775807", 9223372036854775807, 0, "9223372036854775807"},
		{".5", 5, 1, "0.5"},
	} {
		d, err := ParseDecimal(c.in)
		if err != nil || d.Coef != c.coef || d.Scale != c.sc || d.String() != c.out {
			t.Errorf("ParseDecimal(%q) = %+v %q, %v; want %d scale %d %q", c.in, d, d.String(), err, c.coef, c.sc, c.out)
		}
	}
	for _, bad := range []string{"", "-", ".", "1e5", "NaN", "Inf", "1.2.3", "12a", " 1", "0.0000000000000000001", "9223372036854775808", "1,5"} {
		if _, err := ParseDecimal(bad); err == nil {
			t.Errorf("ParseDecimal(%q) accepted", bad)
		}
	}
}

func TestDecimalArithmetic(t *testing.T) {
	a, b := MustDecimal("1.5"), MustDecimal("1.50")
	if !a.Equal(b) || a.Cmp(MustDecimal("1.49")) != 1 || MustDecimal("-2").Cmp(a) != -1 {
		t.Fatal("Cmp")
	}
	r := new(big.Rat).Mul(MustDecimal("97000.5").Rat(), MustDecimal("0.003").Rat())
	d, err := DecimalFromRat(r)
	if err != nil || d.String() != "291.0015" {
		t.Fatalf("product %v %v", d, err)
	}
	if _, err := DecimalFromRat(big.NewRat(1, 3)); err == nil {
		t.Fatal("1/3 converted exactly")
	}
	if d, _ := RoundRat(big.NewRat(2, 3), 4); d.String() != "0.6667" {
		t.Fatalf("round 2/3: %s", d)
	}
	if d, _ := RoundRat(big.NewRat(-1, 8), 2); d.String() != "-0.13" {
		t.Fatalf("round -1/8: %s", d)
	}
	for _, s := range []string{"0", "1", "-1", "97000.5", "-0.000000000000000001", "9223372036854775807", "-9223372036854775807", "123.456789012345678"} {
		d := MustDecimal(s)
		b := appendDecimal(nil, d)
		n, k := binary.Varint(b)
		if k <= 0 || int(n) != len(b)-k {
			t.Fatalf("%s: length prefix %d of %d bytes", s, n, len(b)-k)
		}
		back, err := DecimalFromUnscaled18(b[k:])
		if err != nil || !back.Equal(d) {
			t.Fatalf("unscaled round trip of %s: %v %v", s, back, err)
		}
	}
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"97000.5", "-0.00012", "1e5", "", "9223372036854775807", "0.000000000000000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDecimal(s)
		if err != nil {
			return
		}
		back, err := ParseDecimal(d.String())
		if err != nil || back != d {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, d, d.String(), back, err)
		}
		hi, lo := d.Unscaled18()
		want := new(big.Int).Mul(big.NewInt(d.Coef), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(MaxScale-d.Scale)), nil))
		got := new(big.Int).Lsh(big.NewInt(hi), 64)
		got.Add(got, new(big.Int).SetUint64(lo))
		if got.Cmp(want) != 0 {
			t.Fatalf("%q: unscaled %s, want %s", s, got, want)
		}
	})
}
