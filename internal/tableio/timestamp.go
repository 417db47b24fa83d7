package tableio

import "time"

// Timestamp text is parsed and formatted by hand: time.Parse would need a
// layout per variant and allocates, and CSV files of ten million rows spend
// most of their time here.

// parseTimestamp parses ISO 8601 / RFC 3339 text:
// YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|+HH:MM|-HH:MM|+HHMM]. Text without an
// offset is UTC. It returns seconds since the epoch, the fraction in
// nanoseconds and the number of fraction digits written.
func parseTimestamp(s string) (sec int64, nsec int64, digits int, ok bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ' && s[10] != 't') ||
		s[13] != ':' || s[16] != ':' {
		return 0, 0, 0, false
	}
	year, ok1 := atoiFixed(s[0:4])
	month, ok2 := atoiFixed(s[5:7])
	day, ok3 := atoiFixed(s[8:10])
	hour, ok4 := atoiFixed(s[11:13])
	minute, ok5 := atoiFixed(s[14:16])
	second, ok6 := atoiFixed(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour > 23 || minute > 59 || second > 59 {
		return 0, 0, 0, false
	}
	rest := s[19:]
	if len(rest) > 0 && (rest[0] == '.' || rest[0] == ',') {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			if i <= 9 {
				nsec = nsec*10 + int64(rest[i]-'0')
			} else if rest[i] != '0' {
				return 0, 0, 0, false // finer than a nanosecond: would lose digits
			}
			i++
		}
		digits = i - 1
		if digits == 0 {
			return 0, 0, 0, false
		}
		for k := min(digits, 9); k < 9; k++ {
			nsec *= 10
		}
		rest = rest[i:]
	}
	offset := 0
	switch {
	case rest == "" || rest == "Z" || rest == "z":
	case rest[0] == '+' || rest[0] == '-':
		var oh, om int
		var okh, okm bool
		switch len(rest) {
		case 6: // +HH:MM
			if rest[3] != ':' {
				return 0, 0, 0, false
			}
			oh, okh = atoiFixed(rest[1:3])
			om, okm = atoiFixed(rest[4:6])
		case 5: // +HHMM
			oh, okh = atoiFixed(rest[1:3])
			om, okm = atoiFixed(rest[3:5])
		case 3: // +HH
			oh, okh = atoiFixed(rest[1:3])
			okm = true
		default:
			return 0, 0, 0, false
		}
		if !okh || !okm || oh > 23 || om > 59 {
			return 0, 0, 0, false
		}
		offset = oh*3600 + om*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return 0, 0, 0, false
	}
	days := daysFromCivil(int64(year), month, day)
	sec = days*86400 + int64(hour*3600+minute*60+second) - int64(offset)
	return sec, nsec, digits, true
}

func atoiFixed(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(year, month int) int {
	switch month {
	case 2:
		if isLeap(year) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is Howard Hinnant's days_from_civil: days since 1970-01-01
// of a proleptic Gregorian date.
func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y int64, m, d int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// appendTimestamp appends sec+nsec as YYYY-MM-DDTHH:MM:SS[.fff[fff[fff]]]Z,
// writing 3, 6 or 9 fraction digits, as few as represent the value exactly.
func appendTimestamp(b []byte, sec, nsec int64) []byte {
	days := sec / 86400
	rem := sec % 86400
	if rem < 0 {
		rem += 86400
		days--
	}
	y, m, d := civilFromDays(days)
	if y < 0 || y > 9999 {
		// Outside four-digit years; rare enough for the slow path.
		return time.Unix(sec, nsec).UTC().AppendFormat(b, time.RFC3339Nano)
	}
	b = append4(b, int(y))
	b = append(b, '-')
	b = append2(b, m)
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, 'T')
	b = append2(b, int(rem/3600))
	b = append(b, ':')
	b = append2(b, int(rem/60%60))
	b = append(b, ':')
	b = append2(b, int(rem%60))
	if nsec != 0 {
		digits, v := 9, nsec
		switch {
		case nsec%1_000_000 == 0:
			digits, v = 3, nsec/1_000_000
		case nsec%1_000 == 0:
			digits, v = 6, nsec/1_000
		}
		b = append(b, '.')
		var tmp [9]byte
		for i := digits - 1; i >= 0; i-- {
			tmp[i] = byte('0' + v%10)
			v /= 10
		}
		b = append(b, tmp[:digits]...)
	}
	return append(b, 'Z')
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

func append4(b []byte, v int) []byte {
	if v < 0 {
		v = -v
	}
	return append(b, byte('0'+v/1000%10), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}
