package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml"
)

// yamlValueMessage explains a value of the wrong type by its line, its key
// and the value as written ("line 3: hook: \"20000l\" is not a whole
// number"), where the decoder would name a Go struct field. ok is false
// for other errors.
func yamlValueMessage(err error, data []byte) (string, bool) {
	var te *yaml.TypeError
	if !errors.As(err, &te) || te.Token == nil || te.Token.Position == nil {
		return "", false
	}
	line := te.Token.Position.Line
	lines := strings.Split(string(data), "\n")
	key := ""
	if line >= 1 && line <= len(lines) {
		text := strings.TrimLeft(lines[line-1], " \t-")
		if k, _, ok := strings.Cut(text, ":"); ok {
			key = strings.TrimSpace(k) + ": "
		}
	}
	want := "a value of another kind"
	if te.DstType != nil {
		switch te.DstType.Kind() {
		case reflect.Int, reflect.Int64, reflect.Int32:
			want = "a whole number"
		case reflect.Bool:
			want = "true or false"
		case reflect.String:
			want = "a string"
		case reflect.Slice:
			want = "a list"
		case reflect.Struct:
			want = "a mapping of keys"
		}
	}
	return fmt.Sprintf("line %d: %s%q is not %s", line, key, truncate(te.Token.Value), want), true
}
