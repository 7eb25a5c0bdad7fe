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
		{"-0", 0, 0, "0"},
		{"1.0000000000000000000000", 1000000000000000000, 18, "1.000000000000000000"},
	} {
		d, err := ParseDecimal(c.in)
		if coef, ok := d.Int64(); err != nil || !ok || coef != c.coef || d.Scale != c.sc || d.String() != c.out {
			t.Errorf("ParseDecimal(%q) = %+v %q, %v; want %d scale %d %q", c.in, d, d.String(), err, c.coef, c.sc, c.out)
		}
	}
	for _, bad := range []string{"", "-", ".", "1e5", "NaN", "Inf", "1.2.3", "12a", " 1", "0.0000000000000000001", "123456789012345678901", "1,5", "1E5", "0x10", "--1"} {
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
	for _, s := range []string{"97000.5", "-0.00012", "1e5", "", "9223372036854775807", "0.000000000000000001", "99999999999999999999.999999999999999999"} {
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
		if r, ok := new(big.Rat).SetString(s); !ok || r.Cmp(d.Rat()) != 0 {
			t.Fatalf("%q parsed as %s", s, d)
		}
		if back, err := DecimalFromUnscaled18(appendDecimal(nil, d)[1:]); len(appendDecimal(nil, d)) < 18 && (err != nil || !back.Equal(d)) {
			t.Fatalf("%q: Avro round trip gave %s, %v", s, back, err)
		}
		hi, lo := d.Unscaled18()
		want := new(big.Int).Mul(d.BigInt(), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(MaxScale-d.Scale)), nil))
		got := new(big.Int).Lsh(big.NewInt(hi), 64)
		got.Add(got, new(big.Int).SetUint64(lo))
		if got.Cmp(want) != 0 {
			t.Fatalf("%q: unscaled %s, want %s", s, got, want)
		}
	})
}

// The whole decimal(38,18) range: 20 integer and 18 fractional digits.
func TestDecimalWideRange(t *testing.T) {
	for _, s := range []string{
		"12345678901234.123456", // a meme coin's 24 h volume, beyond int64 at scale 6
		"99999999999999999999.999999999999999999",
		"-99999999999999999999.999999999999999999",
		"18446744073709551616", // 2^64
		"0.123456789012345678",
		"10000000000000000000.5",
		"-9223372036854775808.000000000000000001",
	} {
		d, err := ParseDecimal(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if d.String() != s {
			t.Fatalf("%s formatted as %s", s, d)
		}
		r, _ := new(big.Rat).SetString(s)
		if d.Rat().Cmp(r) != 0 {
			t.Fatalf("%s: Rat %s", s, d.Rat().FloatString(18))
		}
		b := appendDecimal(nil, d)
		n, k := binary.Varint(b)
		back, err := DecimalFromUnscaled18(b[k : k+int(n)])
		if err != nil || !back.Equal(d) {
			t.Fatalf("%s: Avro round trip %s, %v", s, back, err)
		}
		if fr, err := DecimalFromRat(r); err != nil || !fr.Equal(d) {
			t.Fatalf("%s: DecimalFromRat %s, %v", s, fr, err)
		}
		if d.Sign() > 0 && d.Cmp(MustDecimal("-99999999999999999999")) != 1 {
			t.Fatalf("%s: Cmp", s)
		}
	}
	if MustDecimal("18446744073709551616").Cmp(MustDecimal("18446744073709551615.999999999999999999")) != 1 {
		t.Fatal("Cmp across the 64-bit boundary")
	}
	if _, ok := MustDecimal("12345678901234.123456").Int64(); ok {
		t.Fatal("Int64 of a 20-digit coefficient")
	}
	if _, err := DecimalFromRat(new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(20), nil))); err == nil {
		t.Fatal("10^20 accepted")
	}
	if _, err := DecimalFromUnscaled18(make([]byte, 17)); err == nil {
		t.Fatal("17 bytes accepted")
	}
	// 10^38 in 16 bytes is outside decimal(38).
	big38 := new(big.Int).Exp(big.NewInt(10), big.NewInt(38), nil).FillBytes(make([]byte, 16))
	if _, err := DecimalFromUnscaled18(big38); err == nil {
		t.Fatal("10^38 accepted")
	}
}

func TestAppendDecimalAllocs(t *testing.T) {
	wide := MustDecimal("12345678901234.123456")
	small := MustDecimal("97000.5")
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = appendDecimal(appendDecimal(buf[:0], small), wide) }); n != 0 {
		t.Fatalf("appendDecimal allocates %.0f times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseDecimal("12345678901234.123456") }); n != 0 {
		t.Fatalf("ParseDecimal allocates %.0f times", n)
	}
}
