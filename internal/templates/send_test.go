package templates

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/wabridge/wabridge/bridge"
)

// listed returns the template of testdata/listing.json with key.
func listed(t testing.TB, key string) *Template {
	t.Helper()
	for _, tpl := range loadListing(t) {
		if tpl.Key() == key {
			return tpl
		}
	}
	t.Fatalf("no template %s in listing", key)
	return nil
}

func TestRender(t *testing.T) {
	orderUpdate := listed(t, "order_update/en_US")
	named := listed(t, "order_confirmation/en_US")
	otp := listed(t, "verification_code/en_US")
	cases := []struct {
		name    string
		tpl     *Template
		v       Values
		want    string
		wantErr string
	}{
		{"positional", orderUpdate, Values{Body: []string{"12345", "Monday"}}, "Your order 12345 has shipped and arrives on Monday.", ""},
		{"named", named, Values{Named: map[string]string{"first_name": "Pablo", "order_number": "860198-230332"}}, "Thank you, Pablo! Your order number is 860198-230332.", ""},
		{"markers kept", otp, Values{Body: []string{"123456"}}, "*123456* is your verification code. For your security, do not share this code.", ""},
		{"values with regex specials", orderUpdate, Values{Body: []string{"$1.*", "{{2}}"}}, "Your order $1.* has shipped and arrives on {{2}}.", ""},
		{"header and buttons ignored", orderUpdate, Values{Body: []string{"1", "2"}, HeaderText: "x", Buttons: map[int]string{7: "y"}}, "Your order 1 has shipped and arrives on 2.", ""},
		{"too few", orderUpdate, Values{Body: []string{"12345"}}, "", "template order_update needs 2 body parameters, got 1"},
		{"too many", orderUpdate, Values{Body: []string{"1", "2", "3"}}, "", "needs 2 body parameters, got 3"},
		{"empty value", orderUpdate, Values{Body: []string{"1", ""}}, "", "body parameter {{2}} is empty"},
		{"named given positional", named, Values{Body: []string{"a", "b"}}, "", "takes named body parameters"},
		{"positional given named", orderUpdate, Values{Named: map[string]string{"1": "a"}}, "", "takes positional body parameters"},
		{"named missing", named, Values{Named: map[string]string{"first_name": "Pablo"}}, "", "missing order_number"},
		{"named unknown", named, Values{Named: map[string]string{"first_name": "P", "order_number": "1", "city": "x"}}, "", "has no body parameters city"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.tpl.Render(c.v)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Render = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestSend(t *testing.T) {
	orderUpdate := listed(t, "order_update/de_DE")
	named := listed(t, "order_confirmation/en_US")
	otp := listed(t, "verification_code/en_US")
	promo := listed(t, "seasonal_promotion/en_US")
	image := listed(t, "order_shipped_image/en_US")
	coupon := listed(t, "spring_coupon/en_US")
	location := listed(t, "order_delivery_update/en_US")
	carousel := listed(t, "summer_carousel/en_US")
	rejected := listed(t, "shiptest/en_US")
	hello := listed(t, "hello_world/en_US")
	media := &bridge.TemplateMedia{ID: "1339522734477770"}

	cases := []struct {
		name    string
		tpl     *Template
		v       Values
		want    *bridge.Template
		wantErr string
	}{
		{name: "positional", tpl: orderUpdate, v: Values{Body: []string{"12345", "Montag"}},
			want: &bridge.Template{Name: "order_update", Language: "de_DE", Params: []string{"12345", "Montag"}}},
		{name: "no parameters", tpl: hello, v: Values{},
			want: &bridge.Template{Name: "hello_world", Language: "en_US"}},
		{name: "named", tpl: named, v: Values{Named: map[string]string{"first_name": "Pablo", "order_number": "42"}},
			want: &bridge.Template{Name: "order_confirmation", Language: "en_US", NamedParams: map[string]string{"first_name": "Pablo", "order_number": "42"}}},
		{name: "otp button defaults to the code", tpl: otp, v: Values{Body: []string{"123456"}},
			want: &bridge.Template{Name: "verification_code", Language: "en_US", Params: []string{"123456"},
				Buttons: []bridge.TemplateButton{{SubType: "url", Index: 0, Payload: "123456"}}}},
		{name: "otp button explicit", tpl: otp, v: Values{Body: []string{"123456"}, Buttons: map[int]string{0: "654321"}},
			want: &bridge.Template{Name: "verification_code", Language: "en_US", Params: []string{"123456"},
				Buttons: []bridge.TemplateButton{{SubType: "url", Index: 0, Payload: "654321"}}}},
		{name: "text header and quick reply payload", tpl: promo, v: Values{Body: []string{"25OFF", "25%"}, HeaderText: "Summer Sale", Buttons: map[int]string{1: "unsub-all"}},
			want: &bridge.Template{Name: "seasonal_promotion", Language: "en_US", Params: []string{"25OFF", "25%"}, HeaderText: "Summer Sale",
				Buttons: []bridge.TemplateButton{{SubType: "quick_reply", Index: 1, Payload: "unsub-all"}}}},
		{name: "image header and url button", tpl: image, v: Values{Body: []string{"Anna"}, HeaderMedia: media, Buttons: map[int]string{0: "ZX81-2231"}},
			want: &bridge.Template{Name: "order_shipped_image", Language: "en_US", Params: []string{"Anna"},
				HeaderMedia: &bridge.TemplateMedia{Type: "image", ID: "1339522734477770"},
				Buttons:     []bridge.TemplateButton{{SubType: "url", Index: 0, Payload: "ZX81-2231"}}}},
		{name: "copy code", tpl: coupon, v: Values{Body: []string{"Jessica"}, Buttons: map[int]string{0: "SAVE10"}},
			want: &bridge.Template{Name: "spring_coupon", Language: "en_US", Params: []string{"Jessica"},
				Buttons: []bridge.TemplateButton{{SubType: "copy_code", Index: 0, Payload: "SAVE10"}}}},

		{name: "too few body", tpl: orderUpdate, v: Values{Body: []string{"12345"}}, wantErr: "template order_update needs 2 body parameters, got 1"},
		{name: "newline in value", tpl: orderUpdate, v: Values{Body: []string{"12\n345", "Montag"}}, wantErr: "body parameter {{1}} contains a line break or tab"},
		{name: "tab in value", tpl: orderUpdate, v: Values{Body: []string{"12345", "Mon\ttag"}}, wantErr: "body parameter {{2}} contains a line break or tab"},
		{name: "five spaces", tpl: orderUpdate, v: Values{Body: []string{"12     345", "Montag"}}, wantErr: "more than 4 consecutive spaces"},
		{name: "four spaces ok", tpl: orderUpdate, v: Values{Body: []string{"12    345", "Montag"}},
			want: &bridge.Template{Name: "order_update", Language: "de_DE", Params: []string{"12    345", "Montag"}}},
		{name: "named missing", tpl: named, v: Values{Named: map[string]string{"first_name": "Pablo"}}, wantErr: "missing order_number"},
		{name: "header text missing", tpl: promo, v: Values{Body: []string{"a", "b"}}, wantErr: "template seasonal_promotion needs a header text parameter"},
		{name: "header media missing", tpl: image, v: Values{Body: []string{"Anna"}, Buttons: map[int]string{0: "x"}}, wantErr: "needs header media (image)"},
		{name: "header media wrong type", tpl: image, v: Values{Body: []string{"Anna"}, HeaderMedia: &bridge.TemplateMedia{Type: "video", ID: "1"}, Buttons: map[int]string{0: "x"}}, wantErr: "got video media"},
		{name: "header media id and link", tpl: image, v: Values{Body: []string{"Anna"}, HeaderMedia: &bridge.TemplateMedia{ID: "1", Link: "https://x"}, Buttons: map[int]string{0: "x"}}, wantErr: "exactly one of id and link"},
		{name: "header text not taken", tpl: orderUpdate, v: Values{Body: []string{"1", "2"}, HeaderText: "x"}, wantErr: "no header that takes a value"},
		{name: "url button missing", tpl: image, v: Values{Body: []string{"Anna"}, HeaderMedia: media}, wantErr: "needs a value for button 0 (URL)"},
		{name: "copy code missing", tpl: coupon, v: Values{Body: []string{"Jessica"}}, wantErr: "needs a value for button 0 (COPY_CODE)"},
		{name: "static url takes no value", tpl: coupon, v: Values{Body: []string{"Jessica"}, Buttons: map[int]string{0: "C", 1: "x"}}, wantErr: "button 1 has a fixed URL"},
		{name: "phone takes no value", tpl: image, v: Values{Body: []string{"Anna"}, HeaderMedia: media, Buttons: map[int]string{0: "x", 1: "y"}}, wantErr: "button 1 (PHONE_NUMBER) takes no value"},
		{name: "no such button", tpl: orderUpdate, v: Values{Body: []string{"1", "2"}, Buttons: map[int]string{3: "x"}}, wantErr: "has no button 3"},
		{name: "location header", tpl: location, v: Values{Body: []string{"Mark", "566701"}}, wantErr: "LOCATION header"},
		{name: "carousel", tpl: carousel, v: Values{Body: []string{"Pablo"}}, wantErr: "CAROUSEL components"},
		{name: "not approved", tpl: rejected, v: Values{}, wantErr: "is REJECTED, not APPROVED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.tpl.Send(c.v)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(c.want)
				t.Fatalf("Send =\n %s\nwant\n %s", g, w)
			}
		})
	}
}

// TestSendDoesNotAlias checks that the send form shares no memory with the
// caller's values.
func TestSendDoesNotAlias(t *testing.T) {
	tpl := listed(t, "order_update/en_US")
	body := []string{"1", "2"}
	media := &bridge.TemplateMedia{ID: "x"}
	got, err := tpl.Send(Values{Body: body})
	if err != nil {
		t.Fatal(err)
	}
	body[0] = "changed"
	if got.Params[0] != "1" {
		t.Error("Params aliases the caller's slice")
	}
	img := listed(t, "order_shipped_image/en_US")
	got, err = img.Send(Values{Body: []string{"A"}, HeaderMedia: media, Buttons: map[int]string{0: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.HeaderMedia == media || media.Type != "" {
		t.Error("HeaderMedia aliases or modifies the caller's media")
	}
}
