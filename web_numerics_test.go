package main

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestBrowserHasEveryNumericSentence holds the browser to the terminal client: every
// numeric that client_render.go renders (numericShown, a non-empty sentence) has a sentence
// in web/lib/numerics.js, in English and in Chinese, that shows no epoch seconds and not the
// numeric's bare parameters.
func TestBrowserHasEveryNumericSentence(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the browser's numeric table is not checked")
	}
	samples := map[string][]string{}
	for code, shown := range numericShown {
		if shown == "" {
			continue
		}
		m, err := ParseMessage(":labchat.local " + code + " bob " + numericSamples[code])
		if err != nil {
			t.Fatal(err)
		}
		samples[code] = m.Params[1:]
	}
	in, _ := json.Marshal(samples)
	const script = `
import { numericSentence, numericTable } from './web/lib/numerics.js';
let data = '';
process.stdin.on('data', (d) => { data += d; });
process.stdin.on('end', () => {
  const out = {};
  for (const [code, params] of Object.entries(JSON.parse(data))) {
    out[code] = { en: numericSentence(code, params, 'en'), zh: numericSentence(code, params, 'zh'), template: numericTable[code] ? numericTable[code][1] : null };
  }
  process.stdout.write(JSON.stringify(out));
});`
	cmd := exec.Command(node, "--input-type=module", "-e", script)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var got map[string]map[string]*string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
	epoch := regexp.MustCompile(`\b1[0-9]{9}\b`)
	han := regexp.MustCompile(`\p{Han}`)
	for code, params := range samples {
		for _, lang := range []string{"en", "zh"} {
			s := got[code][lang]
			if s == nil {
				t.Errorf("numeric %s (shown by the terminal as %q) has no browser sentence in web/lib/numerics.js", code, numericShown[code])
				break
			}
			if epoch.MatchString(*s) {
				t.Errorf("%s %s shows an epoch time: %q", code, lang, *s)
			}
			if len(params) > 1 && *s == strings.Join(params, " ") {
				t.Errorf("%s %s shows its bare parameters: %q", code, lang, *s)
			}
			// A sentence of our own (not the server's free text) is in Chinese in the Chinese UI.
			if lang == "zh" && *got[code]["template"] != "{0}" && !han.MatchString(*s) {
				t.Errorf("%s has no Chinese sentence: %q", code, *s)
			}
		}
	}
}
