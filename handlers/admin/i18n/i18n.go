// Package i18n is the admin panel's languages: Simplified Chinese and
// English, one catalogue file per language (locales/*.json), chosen from
// the lang cookie or Accept-Language with golang.org/x/text/language.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Codes of the supported languages, as the lang cookie and <html lang>
// spell them.
const (
	English = "en"
	Chinese = "zh-CN"
)

// CookieName is the cookie that keeps an operator's choice.
const CookieName = "lang"

//go:embed locales/*.json
var files embed.FS

// Lang is one language: its catalogue and its formats.
type Lang struct {
	Code    string // "en" or "zh-CN"
	Name    string // the language's own name, for the switch
	Tag     language.Tag
	msgs    map[string]string
	printer *message.Printer
}

var (
	english = mustLoad(English, language.English)
	chinese = mustLoad(Chinese, language.SimplifiedChinese)
	// supported is in the matcher's order: the first is the fallback.
	supported = []*Lang{english, chinese}
	matcher   = language.NewMatcher([]language.Tag{language.English, language.SimplifiedChinese})
)

// All lists the languages, English first.
func All() []*Lang { return supported }

// Get is the language with the code, or nil.
func Get(code string) *Lang {
	for _, l := range supported {
		if strings.EqualFold(l.Code, code) {
			return l
		}
	}
	return nil
}

// Match picks the language: the lang cookie when it names one, else the
// best match for Accept-Language (zh, zh-CN, zh-Hans → Chinese), else
// English.
func Match(cookie, acceptLanguage string) *Lang {
	if l := Get(cookie); l != nil {
		return l
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return english
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return english
	}
	return supported[i]
}

func mustLoad(code string, tag language.Tag) *Lang {
	msgs, err := Catalogue(code)
	if err != nil {
		panic(err) // embedded: a broken catalogue is a build defect
	}
	return &Lang{Code: code, Name: msgs["lang.name"], Tag: tag, msgs: msgs, printer: message.NewPrinter(tag)}
}

// Catalogue reads the catalogue of a language code.
func Catalogue(code string) (map[string]string, error) {
	b, err := files.ReadFile("locales/" + code + ".json")
	if err != nil {
		return nil, fmt.Errorf("catalogue %s: %w", code, err)
	}
	msgs := map[string]string{}
	if err := json.Unmarshal(b, &msgs); err != nil {
		return nil, fmt.Errorf("catalogue %s: %w", code, err)
	}
	return msgs, nil
}

// T is the message of key, with args filled in like fmt.Sprintf. A
// missing key shows as itself (the catalogue test keeps that from
// shipping).
func (l *Lang) T(key string, args ...any) string {
	msg, ok := l.msgs[key]
	if !ok {
		return key
	}
	if len(args) == 0 {
		return msg
	}
	return l.printer.Sprintf(msg, args...)
}

// Has reports whether the catalogue has key.
func (l *Lang) Has(key string) bool { _, ok := l.msgs[key]; return ok }

// Num formats an integer with the language's digit grouping.
func (l *Lang) Num(n int) string { return l.printer.Sprintf("%d", n) }

// Time formats a moment in loc with its zone, e.g. 2026-11-29 14:52 CST.
// A zone without an abbreviation shows as its offset (UTC+8).
func (l *Lang) Time(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	return t.Format("2006-01-02 15:04") + " " + Zone(t)
}

// Zone is the abbreviation of t's zone, or UTC±h[:mm] when it has none.
func Zone(t time.Time) string {
	name, offset := t.Zone()
	if name != "" && name[0] != '+' && name[0] != '-' {
		return name
	}
	sign := "+"
	if offset < 0 {
		sign, offset = "-", -offset
	}
	h, m := offset/3600, offset%3600/60
	if m != 0 {
		return fmt.Sprintf("UTC%s%d:%02d", sign, h, m)
	}
	return fmt.Sprintf("UTC%s%d", sign, h)
}

// Day is a short date in the language: "Nov 29" or "11月29日".
func (l *Lang) Day(t time.Time) string {
	if l.Code == Chinese {
		return fmt.Sprintf("%d月%d日", t.Month(), t.Day())
	}
	return t.Format("Jan 2")
}

// LongDay is a date with its weekday: "Sun 29 Nov" or "11月29日 周日".
func (l *Lang) LongDay(t time.Time) string {
	if l.Code == Chinese {
		return l.Day(t) + " " + l.T(fmt.Sprintf("weekday.%d", t.Weekday()))
	}
	return t.Format("Mon 2 Jan")
}
