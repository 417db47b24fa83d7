package main

import "fmt"

// count renders n with its noun, singular for one: "1 row", "2 rows".
func count(n int64, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
