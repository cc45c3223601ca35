package plan

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ReasonTargetDiffers is the reason of a conflict whose target holds other content.
const ReasonTargetDiffers = "target exists with different content"

// UnsafeKey says why r2plan will not write an object at key, or "" when it will: a key
// longer than S3's 1,024 bytes, not valid UTF-8, with a control character, starting
// with "/", or with a "." or ".." path segment (browsers and CDNs resolve those in a
// URL, so its public URL would name another object).
func UnsafeKey(key string) string {
	switch {
	case len(key) > 1024:
		return fmt.Sprintf("%d bytes, longer than the 1024 an S3 key may have", len(key))
	case !utf8.ValidString(key):
		return "not valid UTF-8"
	case strings.HasPrefix(key, "/"):
		return `starts with "/"`
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return fmt.Sprintf("control character %U", r)
		}
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "." || seg == ".." {
			return fmt.Sprintf("a %q path segment, which a URL resolves away", seg)
		}
	}
	return ""
}
