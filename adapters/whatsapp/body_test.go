package whatsapp

import (
	"errors"
	"testing"

	"github.com/wabridge/wabridge/bridge"
)

func textMsg() *bridge.Message {
	return &bridge.Message{
		ID:       "msg-1",
		Business: "+15550100001",
		Customer: bridge.Customer{Phone: "+4915112345678"},
		Kind:     bridge.KindText,
		Content:  bridge.Content{Text: "Hello"},
	}
}

func tplMsg(t *bridge.Template) *bridge.Message {
	m := textMsg()
	m.Kind = bridge.KindTemplate
	m.Content = bridge.Content{Template: t}
	return m
}

// TestBuildMessageBody pins the exact JSON of each body shape.
func TestBuildMessageBody(t *testing.T) {
	const head = `{"messaging_product":"whatsapp","recipient_type":"individual","to":"+4915112345678",`
	cases := []struct {
		name string
		msg  func() *bridge.Message
		want string
	}{
		{"text", textMsg,
			head + `"type":"text","biz_opaque_callback_data":"msg-1","text":{"body":"Hello","preview_url":false}}`},
		{"text with preview and reply context", func() *bridge.Message {
			m := textMsg()
			m.Content.PreviewURL = true
			m.Content.Text = "see https://example.com/a?b=1&c=<2>"
			m.Content.Context = &bridge.Context{WAMID: "wamid.PREV"}
			return m
		}, head + `"type":"text","context":{"message_id":"wamid.PREV"},"biz_opaque_callback_data":"msg-1","text":{"body":"see https://example.com/a?b=1&c=<2>","preview_url":true}}`},
		{"context without wamid is ignored", func() *bridge.Message {
			m := textMsg()
			m.Content.Context = &bridge.Context{Forwarded: true}
			return m
		}, head + `"type":"text","biz_opaque_callback_data":"msg-1","text":{"body":"Hello","preview_url":false}}`},
		{"no message id", func() *bridge.Message {
			m := textMsg()
			m.ID = ""
			return m
		}, head + `"type":"text","text":{"body":"Hello","preview_url":false}}`},
		{"BSUID recipient", func() *bridge.Message {
			m := textMsg()
			m.Customer = bridge.Customer{BSUID: "US.13491208655302741918"}
			return m
		}, `{"messaging_product":"whatsapp","recipient_type":"individual","recipient":"US.13491208655302741918","type":"text","biz_opaque_callback_data":"msg-1","text":{"body":"Hello","preview_url":false}}`},
		{"phone wins over BSUID", func() *bridge.Message {
			m := textMsg()
			m.Customer.BSUID = "US.1"
			return m
		}, head + `"type":"text","biz_opaque_callback_data":"msg-1","text":{"body":"Hello","preview_url":false}}`},
		{"template without parameters", func() *bridge.Message {
			return tplMsg(&bridge.Template{Name: "hello_world", Language: "en_US"})
		}, head + `"type":"template","biz_opaque_callback_data":"msg-1","template":{"name":"hello_world","language":{"code":"en_US"}}}`},
		{"template positional", func() *bridge.Message {
			return tplMsg(&bridge.Template{Name: "coupon_expiration_reminder", Language: "en", Params: []string{"SUMMER20", "10"}})
		}, head + `"type":"template","biz_opaque_callback_data":"msg-1","template":{"name":"coupon_expiration_reminder","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":"SUMMER20"},{"type":"text","text":"10"}]}]}}`},
		{"template named, sorted by name", func() *bridge.Message {
			return tplMsg(&bridge.Template{Name: "order_confirmation", Language: "en_US",
				NamedParams: map[string]string{"order_number": "SKBUP2-4CPIG9", "first_name": "Jessica"}})
		}, head + `"type":"template","biz_opaque_callback_data":"msg-1","template":{"name":"order_confirmation","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","parameter_name":"first_name","text":"Jessica"},{"type":"text","parameter_name":"order_number","text":"SKBUP2-4CPIG9"}]}]}}`},
		{"template header image by id", func() *bridge.Message {
			return tplMsg(&bridge.Template{Name: "promo", Language: "en_US",
				HeaderMedia: &bridge.TemplateMedia{Type: "image", ID: "1339522734477770"}, Params: []string{"Pablo"}})
		}, head + `"type":"template","biz_opaque_callback_data":"msg-1","template":{"name":"promo","language":{"code":"en_US"},"components":[{"type":"header","parameters":[{"type":"image","image":{"id":"1339522734477770"}}]},{"type":"body","parameters":[{"type":"text","text":"Pablo"}]}]}}`},
		{"template header video by link", func() *bridge.Message {
			return tplMsg(&bridge.Template{Name: "promo", Language: "en_US",
				HeaderMedia: &bridge.TemplateMedia{Type: "video", Link: "https://example.com/v.mp4", Filename: "ignored.mp4"}})
		}, head + `"type":"template","biz_opaque_callback_data":"msg-1","template":{"name":"promo","language":{"code":"en_US"},"components":[{"type":"header","parameters":[{"type":"video","video":{"link":"https://example.com/v.mp4"}}]}]}}`},
		{"template header document with filename", func() *bridge.Message {
			return tplMsg(&bridge.Template{Name: "invoice", Language: "de",
				HeaderMedia: &bridge.TemplateMedia{Type: "document", ID: "42", Filename: "rechnung.pdf"}})
		}, head + `"type":"template","biz_opaque_callback_data":"msg-1","template":{"name":"invoice","language":{"code":"de"},"components":[{"type":"header","parameters":[{"type":"document","document":{"id":"42","filename":"rechnung.pdf"}}]}]}}`},
		{"template header text", func() *bridge.Message {
			return tplMsg(&bridge.Template{Name: "t", Language: "en", HeaderText: "Order 42"})
		}, head + `"type":"template","biz_opaque_callback_data":"msg-1","template":{"name":"t","language":{"code":"en"},"components":[{"type":"header","parameters":[{"type":"text","text":"Order 42"}]}]}}`},
		{"template buttons", func() *bridge.Message {
			return tplMsg(&bridge.Template{Name: "t", Language: "en", Buttons: []bridge.TemplateButton{
				{SubType: "quick_reply", Index: 0, Payload: "STOP_PROMO"},
				{SubType: "url", Index: 1, Payload: "n3mtql"},
				{SubType: "copy_code", Index: 2, Payload: "CARIBE25"},
			}})
		}, head + `"type":"template","biz_opaque_callback_data":"msg-1","template":{"name":"t","language":{"code":"en"},"components":[` +
			`{"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"STOP_PROMO"}]},` +
			`{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"n3mtql"}]},` +
			`{"type":"button","sub_type":"copy_code","index":"2","parameters":[{"type":"coupon_code","coupon_code":"CARIBE25"}]}]}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := BuildMessageBody(c.msg())
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("body\n got %s\nwant %s", got, c.want)
			}
		})
	}
}

// TestBuildMessageBodyInvalid: malformed messages are permanent/invalid.
func TestBuildMessageBodyInvalid(t *testing.T) {
	cases := map[string]func() *bridge.Message{
		"nil":              func() *bridge.Message { return nil },
		"unsupported kind": func() *bridge.Message { m := textMsg(); m.Kind = bridge.KindButton; return m },
		"system kind":      func() *bridge.Message { m := textMsg(); m.Kind = bridge.KindSystem; return m },
		"unknown kind":     func() *bridge.Message { m := textMsg(); m.Kind = "carrier_pigeon"; return m },
		"no recipient":     func() *bridge.Message { m := textMsg(); m.Customer = bridge.Customer{}; return m },
		"empty text":       func() *bridge.Message { m := textMsg(); m.Content.Text = ""; return m },
		"no template":      func() *bridge.Message { return tplMsg(nil) },
		"no template name": func() *bridge.Message { return tplMsg(&bridge.Template{Language: "en"}) },
		"no language":      func() *bridge.Message { return tplMsg(&bridge.Template{Name: "t"}) },
		"both param kinds": func() *bridge.Message {
			return tplMsg(&bridge.Template{Name: "t", Language: "en", Params: []string{"a"}, NamedParams: map[string]string{"b": "c"}})
		},
		"empty positional": func() *bridge.Message {
			return tplMsg(&bridge.Template{Name: "t", Language: "en", Params: []string{"a", ""}})
		},
		"empty named": func() *bridge.Message {
			return tplMsg(&bridge.Template{Name: "t", Language: "en", NamedParams: map[string]string{"b": ""}})
		},
		"header media and text": func() *bridge.Message {
			return tplMsg(&bridge.Template{Name: "t", Language: "en", HeaderText: "x", HeaderMedia: &bridge.TemplateMedia{Type: "image", ID: "1"}})
		},
		"header media bad type": func() *bridge.Message {
			return tplMsg(&bridge.Template{Name: "t", Language: "en", HeaderMedia: &bridge.TemplateMedia{Type: "audio", ID: "1"}})
		},
		"header media id and link": func() *bridge.Message {
			return tplMsg(&bridge.Template{Name: "t", Language: "en", HeaderMedia: &bridge.TemplateMedia{Type: "image", ID: "1", Link: "https://x"}})
		},
		"header media neither": func() *bridge.Message {
			return tplMsg(&bridge.Template{Name: "t", Language: "en", HeaderMedia: &bridge.TemplateMedia{Type: "image"}})
		},
		"button sub_type": func() *bridge.Message {
			return tplMsg(&bridge.Template{Name: "t", Language: "en", Buttons: []bridge.TemplateButton{{SubType: "flow", Payload: "x"}}})
		},
		"button payload": func() *bridge.Message {
			return tplMsg(&bridge.Template{Name: "t", Language: "en", Buttons: []bridge.TemplateButton{{SubType: "url"}}})
		},
		"button index": func() *bridge.Message {
			return tplMsg(&bridge.Template{Name: "t", Language: "en", Buttons: []bridge.TemplateButton{{SubType: "url", Index: -1, Payload: "x"}}})
		},
	}
	for name, msg := range cases {
		_, err := BuildMessageBody(msg())
		var se *bridge.SendError
		if !errors.As(err, &se) || se.Action != bridge.ActionPermanent || se.Reason != bridge.ReasonInvalid {
			t.Errorf("%s: err = %v, want permanent/invalid SendError", name, err)
		}
	}
}
