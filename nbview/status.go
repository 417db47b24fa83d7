package nbview

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/featuredag/fdag/compute"
	"github.com/featuredag/fdag/ir"
)

// Statuses returns the per-feature statuses carried in the schema metadata
// key fdag.features (compute.MetadataKey), in request order; nil when the
// schema has none. Malformed metadata is an error naming the key.
func Statuses(schema *arrow.Schema) ([]compute.FeatureStatus, error) {
	md := schema.Metadata()
	i := md.FindKey(compute.MetadataKey)
	if i < 0 {
		return nil, nil
	}
	var sts []compute.FeatureStatus
	if err := json.Unmarshal([]byte(md.Values()[i]), &sts); err != nil {
		return nil, fmt.Errorf("schema metadata %q: %w", compute.MetadataKey, err)
	}
	return sts, nil
}

// errPosition matches the "name: line:col: " prefix of a feature error.
var errPosition = regexp.MustCompile(`^(.*?): (\d+):(\d+): `)

// RenderError returns a feature's error message with the formula line and a
// caret under the reported position, as the command line prints it:
//
//	ret_5: 1:14: rolling_mean expects 2 or 3 arguments, got 1
//	 | log(close) - rolling_mean(close)
//	 |              ^
//
// formula is the feature's source text ("" when unknown, e.g. a registry
// type). A message that already holds a caret line, has no position or
// whose position lies outside formula is returned as it is: each line of a
// multi-error message gets its own caret.
func RenderError(msg, formula string) string {
	if formula == "" || strings.Contains(msg, "\n | ") {
		return msg
	}
	src := strings.Split(formula, "\n")
	lines := strings.Split(msg, "\n")
	var b strings.Builder
	for i, line := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(line)
		m := errPosition.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ln, _ := strconv.Atoi(m[2])
		col, _ := strconv.Atoi(m[3])
		if ln < 1 || ln > len(src) || col < 1 || col > utf8.RuneCountInString(src[ln-1])+1 {
			continue
		}
		text := src[ln-1]
		var pad strings.Builder
		for j, r := range []rune(text) {
			if j >= col-1 {
				break
			}
			if r == '\t' {
				pad.WriteByte('\t')
			} else {
				pad.WriteByte(' ')
			}
		}
		fmt.Fprintf(&b, "\n | %s\n | %s^", text, pad.String())
	}
	return b.String()
}

// formulas maps feature names to their inline formulas, for RenderError.
func formulas(specs []ir.Spec) map[string]string {
	m := make(map[string]string, len(specs))
	for _, s := range specs {
		if s.Formula != "" {
			m[s.Name] = s.Formula
		}
	}
	return m
}
