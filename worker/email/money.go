package email

import (
	"strconv"
	"strings"
)

// minorDigits lists the currencies whose minor unit is not a hundredth (ISO 4217); amounts are
// stored in minor units ("cents") whatever the currency.
var minorDigits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

var symbols = map[string]string{"EUR": "€", "USD": "$", "GBP": "£"}

// Money formats an amount in minor units for a reader: Money(123456, "EUR") is "€1,234.56",
// Money(500, "JPY") is "JPY 500". Unknown currencies get two decimals and their code.
func Money(minor int64, currency string) string {
	currency = strings.ToUpper(strings.TrimSpace(currency))
	digits, ok := minorDigits[currency]
	if !ok {
		digits = 2
	}
	sign := ""
	u := uint64(minor)
	if minor < 0 {
		sign, u = "-", uint64(-minor) // wraps correctly for math.MinInt64 too
	}
	scale := uint64(1)
	for range digits {
		scale *= 10
	}
	s := group(strconv.FormatUint(u/scale, 10))
	if digits > 0 {
		frac := strconv.FormatUint(u%scale, 10)
		s += "." + strings.Repeat("0", digits-len(frac)) + frac
	}
	if sym, ok := symbols[currency]; ok {
		return sign + sym + s
	}
	return sign + currency + " " + s
}

// group puts a comma between each group of three digits.
func group(digits string) string {
	var b strings.Builder
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	return b.String()
}
