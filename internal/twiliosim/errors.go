package twiliosim

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Error codes. Sources are Twilio's error dictionary pages
// (https://www.twilio.com/docs/errors/N) as stored when this was written;
// [C] = the page confirms the meaning used here, [U] = the code's meaning is
// confirmed but whether Twilio uses it in exactly this situation (or
// synchronously vs. in a status callback) could not be confirmed.
const (
	codeBadRequest        = 400   // [C] "Bad Request" (generic, Content API validation here) [U for the exact code Content API uses]
	codeAuthenticate      = 20003 // [C] "Permission Denied"/"Authenticate", HTTP 401
	codeNotFound          = 20404 // [C] "The requested resource … was not found", HTTP 404
	codeInvalidTo         = 21211 // [C] "The 'To' number … is not a valid phone number"
	codeInvalidFrom       = 21212 // [C] "Invalid From Number": From is not a phone number, short code or alphanumeric sender id
	codeBodyRequired      = 21602 // [C] "Message body is required" (Body or MediaUrl; ContentSid also counts)
	codeFromRequired      = 21603 // [C] "A 'From' or 'MessagingServiceSid' parameter is required"
	codeToRequired        = 21604 // [C] "'To' phone number is required"
	codeFromNotOurs       = 21606 // [C] "The 'From' phone number provided is not a valid message-capable Twilio phone number for this destination/account"
	codeInvalidCallback   = 21609 // [C] "Invalid 'StatusCallback'"
	codeBodyTooLong       = 21617 // [C] "The concatenated message body exceeds the 1600 character limit"
	codeMediaTooMany      = 21623 // [U] "Number of media files exceeds allowed limit" — meaning from memory, page not found in stored docs
	codeContentSidNeeded  = 21654 // [C] "ContentSid Required" when ContentVariables are given without it
	codeContentSid        = 21655 // [C] "The ContentSid is Invalid" (unknown, malformed, or another account's)
	codeContentVariables  = 21656 // [C] "The ContentVariables Parameter is invalid" (not a JSON object, null or empty values)
	codeServiceMissing    = 21701 // [C] "The Messaging Service does not exist"
	codeServiceInvalid    = 21705 // [C] "The Messaging Service is invalid" (sid does not match MG pattern)
	codeChannelMismatch   = 21910 // [C] "Invalid 'From' and 'To' pair. 'From' and 'To' should be of the same channel"
	codeUndelivered       = 30003 // [C] "Unreachable destination handset" (status undelivered)
	codeHTTPRetrieval     = 11200 // [C] "HTTP retrieval failure" — used for SMS/MMS MediaUrl fetch failures [U]
	codeNoToAddress       = 63003 // [C] "Channel could not find To address" (↔ WhatsApp 1006/1013/1021)
	codeNoFromChannel     = 63007 // [C] "Twilio could not find a Channel with the specified 'From' address" (sync 400 here [U])
	codeOutsideWindow     = 63016 // [C] "Outside messaging window. For WhatsApp, use a Message Template instead"
	codeMediaDownload     = 63019 // [C] "Media failed to download" (↔ WhatsApp 400)
	codeTemplateMissing   = 63027 // [C] meaning "Template does not exist for a language and locale" (↔ 2001/2003); used for not-approved content outside the window [U]
	codeParamCountInvalid = 63028 // [C] "Number of parameters provided does not match the expected number of parameters" (↔ 2000)
)

// errorMessages are the texts put into ErrorMessage / error_message.
var errorMessages = map[int]string{
	codeUndelivered:       "Unreachable destination handset",
	codeHTTPRetrieval:     "HTTP retrieval failure",
	codeNoToAddress:       "Channel could not find To address",
	codeOutsideWindow:     "Outside messaging window. For WhatsApp, use a Message Template instead",
	codeMediaDownload:     "Media failed to download",
	codeTemplateMissing:   "Template does not exist for a language and locale",
	codeParamCountInvalid: "Number of parameters provided does not match the expected number of parameters",
}

// apiError is Twilio's REST error body.
type apiError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

// writeError answers Twilio's error JSON.
func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, apiError{
		Code: code, Message: msg, Status: status,
		MoreInfo: "https://www.twilio.com/docs/errors/" + strconv.Itoa(code),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
