// Package twiliosim simulates the parts of Twilio that wabridge uses —
// Programmable Messaging for WhatsApp and SMS, and the Content API — over
// real HTTP, for the daemon's sandbox mode and for end-to-end tests.
//
// The package imports nothing from the rest of the repository but the
// simulators' lifecycle (internal/simlife): it speaks only HTTP, as Twilio
// does. All state is in memory; every method is safe
// for concurrent use.
//
// # REST API (HTTP basic auth: AccountSID:AuthToken or an API key SK…:secret)
//
//	POST /2010-04-01/Accounts/{AccountSid}/Messages.json              send (form): To, From | MessagingServiceSid,
//	                                                                  Body, MediaUrl (≤10), ContentSid, ContentVariables,
//	                                                                  StatusCallback, PersistentAction → 201 Message
//	GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json        the Message with its current status
//	GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}/Media/{ME}  bytes of an inbound medium (".json": Media resource)
//
// {AccountSid} must be the main account or one of Config.SubaccountSIDs
// (else 404/20404); bad or missing credentials answer 401/20003. Errors are
// Twilio's JSON {"code","message","more_info","status"}.
//
// # Content API (Twilio serves it at content.twilio.com; here on the same listener)
//
//	GET  /v1/Content  ·  GET /v1/ContentAndApprovals  ·  GET /v1/Content/{HX}  ·  DELETE /v1/Content/{HX}
//	POST /v1/Content  ·  GET /v1/Content/{HX}/ApprovalRequests  ·  POST /v1/Content/{HX}/ApprovalRequests/whatsapp
//
// Lists page with PageSize (default 50, max 1000 as Twilio's OpenAPI spec
// says), Page and PageToken, and carry Twilio's "meta" object (page,
// page_size, first_page_url, previous_page_url, url, next_page_url, key).
// Content sids are "HX" + 32 hex digits derived from name and language, so
// they are stable across runs.
//
// # Control API (no auth, JSON)
//
//	POST /sandbox/v1/inbound         {"from","to","channel":"whatsapp"|"sms","text","profile_name","bsuid",
//	                                  "media":{"mime_type","size","seed"},"location":{"latitude","longitude",
//	                                  "name","address"},"button":{"text","payload"},"reply_to":"SM…"} → {"sid"}
//	GET  /sandbox/v1/messages        ?to=&direction=outbound|inbound|all&sid= → {"messages":[…]} in creation order
//	GET  /sandbox/v1/stats           counters
//	POST /sandbox/v1/content/status  {"sid" | "name"+"language","status","rejection_reason"?} → the content
//	POST /sandbox/v1/settings        {"status_delay":"250ms","latency":"5ms","no_auto_read":true} → settings
//	POST /sandbox/v1/reset           forget messages, windows, counters, pending webhooks; restore catalogue
//	GET  /sandbox/v1/windows         ?business=&customer= → {"open","expires_at"}
//
// Inbound media bytes are generated deterministically: the SHA-256
// counter-mode stream of the seed (block i = SHA-256(seed ‖ uint64be(i))),
// default 1 KiB of image/jpeg.
//
// # What is simulated
//
//   - Validation of sends with Twilio's error codes (errors.go lists each
//     code with its source and certainty): 21604 To missing, 21211 To not a
//     number, 21603 no From/MessagingServiceSid, 21705/21701 bad/unknown
//     Messaging Service, 21910 From and To of different channels, 63007
//     whatsapp: From that is not a WhatsApp sender, 21212 From that is no
//     number/sender id, 21606 SMS From that is not ours, 21602 nothing to
//     send, 21617 Body over 1600 characters, 21623 over 10 MediaUrl (code
//     not confirmed), 21609 bad StatusCallback, 21654 ContentVariables
//     without ContentSid, 21655 unknown ContentSid, 21656 ContentVariables
//     not a JSON object or with null/empty values.
//   - Status callbacks, form-encoded and signed with X-Twilio-Signature,
//     StatusDelay apart, with MessageSid, SmsSid, MessageStatus, SmsStatus,
//     AccountSid, From, To, ApiVersion, MessagingServiceSid (when used),
//     ChannelPrefix/ChannelToAddress/ChannelInstallSid (WhatsApp) and
//     ErrorCode/ErrorMessage (failures). No callback for the initial
//     "queued" ("accepted" with a Messaging Service, which then posts
//     "queued" — that callback is not confirmed for real Twilio).
//     WhatsApp: sent → delivered → read (no read with NoAutoRead); failed
//     63003 for NotOnWhatsApp; failed 63016 for a freeform message while the
//     customer-service window is closed; content whose WhatsApp approval is
//     not "approved" is sent as a session message inside the window and
//     fails 63027 outside it (Twilio's exact code for this is not
//     confirmed); failed 63028 when a placeholder has neither a
//     ContentVariables value nor a default in the content's variables
//     (Twilio fills defaults from "variables", so this only happens for
//     created content without them). SMS: sent → delivered, or sent →
//     undelivered 30003 for SMSUndeliverable; num_segments is estimated
//     (GSM-7 160/153, else UCS-2 70/67).
//   - The window per (business number, customer) is opened by every inbound
//     WhatsApp message and lasts Window (24h).
//   - MediaUrl: fetched before "sent" (GET, 30s, ≤16 MiB, non-empty 2xx);
//     content type, size and SHA-256 are recorded; a failure ends the
//     message failed 63019 (WhatsApp) or 11200 (SMS/MMS, not confirmed).
//   - Content sends record the rendered text (also answered as "body").
//   - Inbound messages (control API) are posted to the webhook URL with
//     Twilio's parameters (MessageSid, SmsMessageSid, SmsSid, AccountSid,
//     MessagingServiceSid when the number belongs to a service, From, To,
//     Body, NumMedia, NumSegments, MediaUrlN/MediaContentTypeN, ProfileName,
//     WaId, MessageType, Latitude/Longitude/Address/Label,
//     ButtonText/ButtonPayload, OriginalRepliedMessageSid/Sender,
//     ExternalUserId, SmsStatus=received, ApiVersion).
//   - Webhook re-delivery on non-2xx or connection errors (CallbackRetryInitial
//     doubling to CallbackRetryMax, for 24h), ordered per message. Real
//     Twilio does not retry messaging webhooks unless the URL carries
//     connection overrides (#rc=…&rp=…); the simulator always retries so that
//     durability tests can rely on re-delivery. Every webhook carries
//     I-Twilio-Idempotency-Token (stable across re-deliveries).
//   - Content API listing/paging, creation, deletion, approval requests
//     (pending, then approved after ContentReviewDelay, rejected when the
//     name contains "reject") and status changes through the control API.
//
// # What is not simulated
//
// Message listing (GET Messages.json), update/redaction/deletion and
// cancellation of messages, scheduling (SendAt), ValidityPeriod, prices
// (price is always null), rate limits (429/20429, 63018), the WhatsApp
// sandbox's join keyword (63015), STOP/opt-out handling (21610), channel
// senders APIs, Conversations, Twilio's media size and type rules per
// channel, outbound media stored as Media resources, the JSON-body webhook
// signing variant (bodySHA256), Content types beyond reading their body
// (twilio/card, list pickers, … are stored and echoed but sent as text),
// and the "received"/"paused"/"disabled" lifecycle beyond setting them via
// the control API.
package twiliosim
