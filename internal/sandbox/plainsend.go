package sandbox

import "github.com/wabridge/wabridge/internal/jsonlite"

// decodePlainSend decodes the sends clients usually make — a text
// {"messaging_product","recipient_type","to","type","biz_opaque_callback_data",
// "text":{"body","preview_url"}} or a template {…,"template":{"name",
// "language":{"code","policy"},"components":[{"type","sub_type",
// "parameters":[{"type","parameter_name","text"}]}]}} — with members in
// any order, without whitespace or escapes, into env as json.Unmarshal
// would; false for anything else, which is then json.Unmarshal's
// (reflection was a fifth of the simulator's CPU per send).
// FuzzPlainSend holds it to json.Unmarshal.
func decodePlainSend(b []byte, env *sendEnvelope) bool {
	if len(b) < 2 {
		return false
	}
	i, ok := jsonlite.EachMember(b, 0, func(key []byte, i int) (int, bool) {
		var dst *string
		switch string(key) {
		case "messaging_product":
			dst = &env.MessagingProduct
		case "recipient_type":
			dst = &env.RecipientType
		case "to":
			dst = &env.To
		case "type":
			dst = &env.Type
		case "biz_opaque_callback_data":
			dst = &env.BizOpaque
		case "text":
			if env.Text != nil { // a repeated object merges in encoding/json
				return i, false
			}
			env.Text = &textReq{}
			return decodePlainText(b, i, env.Text)
		case "template":
			if env.Template != nil {
				return i, false
			}
			env.Template = &templateReq{}
			return decodePlainTemplate(b, i, env.Template)
		default:
			return i, false
		}
		var ok bool
		*dst, i, ok = jsonlite.ReadString(b, i)
		return i, ok
	})
	return ok && i == len(b)
}

// decodePlainText reads {"body":…,"preview_url":true|false} at b[i].
func decodePlainText(b []byte, i int, t *textReq) (int, bool) {
	return jsonlite.EachMember(b, i, func(key []byte, i int) (int, bool) {
		var ok bool
		switch string(key) {
		case "body":
			t.Body, i, ok = jsonlite.ReadString(b, i)
		case "preview_url":
			t.PreviewURL, i, ok = jsonlite.ReadBool(b, i)
		}
		return i, ok
	})
}

// decodePlainTemplate reads a template's name, language and components.
func decodePlainTemplate(b []byte, i int, t *templateReq) (int, bool) {
	seenLang, seenComps := false, false
	return jsonlite.EachMember(b, i, func(key []byte, i int) (int, bool) {
		var ok bool
		switch string(key) {
		case "name":
			t.Name, i, ok = jsonlite.ReadString(b, i)
		case "language":
			if seenLang {
				return i, false
			}
			seenLang = true
			i, ok = jsonlite.EachMember(b, i, func(key []byte, i int) (int, bool) {
				var ok bool
				switch string(key) {
				case "code":
					t.Language.Code, i, ok = jsonlite.ReadString(b, i)
				case "policy":
					t.Language.Policy, i, ok = jsonlite.ReadString(b, i)
				}
				return i, ok
			})
		case "components":
			if seenComps {
				return i, false
			}
			seenComps = true
			t.Components = []componentReq{}
			i, ok = jsonlite.EachElement(b, i, func(i int) (int, bool) {
				t.Components = append(t.Components, componentReq{})
				return decodePlainComponent(b, i, &t.Components[len(t.Components)-1])
			})
		}
		return i, ok
	})
}

// decodePlainComponent reads {"type","sub_type","parameters":[…]}; an
// index is left to encoding/json (Meta takes a number or a string).
func decodePlainComponent(b []byte, i int, c *componentReq) (int, bool) {
	seenParams := false
	return jsonlite.EachMember(b, i, func(key []byte, i int) (int, bool) {
		var ok bool
		switch string(key) {
		case "type":
			c.Type, i, ok = jsonlite.ReadString(b, i)
		case "sub_type":
			c.SubType, i, ok = jsonlite.ReadString(b, i)
		case "parameters":
			if seenParams {
				return i, false
			}
			seenParams = true
			c.Parameters = []paramReq{}
			i, ok = jsonlite.EachElement(b, i, func(i int) (int, bool) {
				c.Parameters = append(c.Parameters, paramReq{})
				p := &c.Parameters[len(c.Parameters)-1]
				return jsonlite.EachMember(b, i, func(key []byte, i int) (int, bool) {
					var ok bool
					switch string(key) {
					case "type":
						p.Type, i, ok = jsonlite.ReadString(b, i)
					case "parameter_name":
						p.ParameterName, i, ok = jsonlite.ReadString(b, i)
					case "text":
						var s string
						if s, i, ok = jsonlite.ReadString(b, i); ok {
							p.Text = &s
						}
					}
					return i, ok
				})
			})
		}
		return i, ok
	})
}
