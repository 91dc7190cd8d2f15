// Package smsc is an SMPP 3.4 client (the ESME side) to an operator's SMSC:
// the SMS route wabridge falls back to. A Client binds as a transceiver,
// submits text as SMS (bridge.SMSRoute) and reports delivery receipts and
// customers' messages (MO) as bridge.SMSEvent.
//
// # Connection
//
// Start dials (TCP or TLS) and sends bind_transceiver (system_id, password,
// system_type, interface_version 0x34). A refused bind or a failed dial is
// logged and retried with exponential backoff (ReconnectMin doubling to
// ReconnectMax, ±20% jitter), forever, until Close; the backoff starts
// over after a session that lasted ReconnectMax. The link is watched: an
// enquire_link goes out after EnquireLink without a PDU from the SMSC; the
// connection is dropped when nothing arrives for 2×EnquireLink or a
// request (submit_sm, enquire_link, unbind) stays unanswered for
// ResponseTimeout. The SMSC's enquire_link is answered, its unbind is
// answered and followed by a reconnect. Close waits for the submit_sm in
// flight and the events being stored, then unbinds.
//
// # Submitting
//
// Text is encoded with internal/sms: GSM 03.38 (data_coding 0, one septet
// per octet) when every character is in the default alphabet or its
// extension table, else UCS-2 (data_coding 8). Longer texts are split
// (sms.Split: 153 septets / 67 UTF-16 units per part; an escape sequence
// or a surrogate pair is never cut) and sent with a concatenation UDH
// (05 00 03 ref total seq, esm_class 0x40); each message gets the next
// 8-bit reference (the counter starts at random). Every part asks for a
// receipt (registered_delivery 1). The destination is TON 1 / NPI 1 (E.164
// without '+'); a numeric sender is Config.NumericSource (default 1/1), an
// alphanumeric one (1-11 printable ASCII characters, only with
// AllowAlphanumericSource) Config.AlphaSource (default 5/0). An SMS whose
// sender is empty or alphanumeric on a route that does not allow it is
// sent from DefaultSource when one is configured, else refused with a final
// SendError (ActionPermanent, ReasonInvalid), as is an invalid
// destination, an empty text or one that needs more than 255 parts.
//
// Parts wait in one queue per client, ordered by arrival (a part that comes
// back keeps its place), and go out while the window (Window submit_sm
// awaiting their response) has room, at most Throughput per second.
// SubmitSMS returns the message_id of every part, in order, once all are
// accepted. Outcomes per command_status:
//
//   - ESME_ROK: accepted (an empty message_id is returned as is).
//   - ESME_RTHROTTLED, ESME_RMSGQFUL: the part goes back to the queue and
//     all submissions pause for ThrottleMin, doubling up to ThrottleMax
//     while refusals continue (a window of refusals counts once), reset by
//     an accepted part. Never dropped; when ctx ends first: ActionRetry
//     with Code the last refusal.
//   - ESME_RINVBNDSTS: the part is requeued and the client binds again.
//   - ESME_RSYSERR, ESME_RX_T_APPN: ActionRetry, ReasonUpstreamError, Code
//     (the SMSC's temporary failures; the core retries with backoff).
//   - address errors (RINVSRCADR, RINVDSTADR, RINVSRCTON/NPI,
//     RINVDSTTON/NPI): ActionPermanent, ReasonInvalid, Code.
//   - anything else (generic_nack included): ActionPermanent,
//     ReasonUpstreamError, Code.
//
// A final failure drops the message's parts still queued and waits for
// those in flight; the parts accepted are reported in a
// *bridge.SMSSubmitError. When the link drops, the submit_sm awaiting a
// response are resent after the rebind: delivery is at least once (a part
// the SMSC accepted just before the drop may be sent twice). When ctx ends,
// SubmitSMS returns at once (ActionRetry, parts accepted so far in an
// SMSSubmitError); parts already in flight may still be accepted, and their
// ids are then not reported.
//
// # Receiving
//
// deliver_sm and data_sm are decoded by hand (not by gosmpp, so that an odd
// UDH or a truncated field cannot stop the reader); requests are encoded
// with gosmpp's pdu package. An esm_class of 0x04 (receipt) or 0x20
// (intermediate notification), or no type bits with both
// receipted_message_id and message_state, is a receipt: PartID from
// receipted_message_id or else the text's id (sms.ParseReceipt: any label
// case, 10- or 12-digit dates, any id form, missing fields), Stat from
// message_state or else the text's stat (normalised to the bridge.SMS*
// words; unknown words are UNKNOWN), ErrorCode from network_error_code or
// else the text's err (decimal, else hex), At from the done date or else
// the time received. A receipt with no id at all is answered ESME_ROK and
// dropped (logged). Other message types (SME acknowledgements) are
// answered and ignored.
//
// Anything else is a customer's message. Text is decoded per data_coding: 0
// per DataCoding0 (GSM 03.38 by default), 1 IA5, 3 Latin-1, 8 UCS-2, and
// the 3GPP TS 23.038 coding groups SMSCs pass through (0x10-0x3F, 0xC0-0xFF)
// for GSM and UCS-2; UDH national language shifts are honoured. Decoding is
// lenient (a lone surrogate becomes U+FFFD, 8-bit octets under GSM are read
// as Latin-1). Binary data, unknown codings, a non-numeric sender or
// recipient and a malformed PDU or UDH are refused with ESME_RX_P_APPN.
// Parts (UDH 8- or 16-bit reference, or sar_* TLVs) are reassembled in
// memory per (sender, recipient, reference, total); the bytes of all parts
// are joined before decoding, so a surrogate pair cut between parts
// survives. The message is reported as bridge.SMSEvent.MO: inbound, channel
// sms, Business "+"+destination, Customer.Phone "+"+source, kind text,
// Timestamp the time received, WAMID "sms:<route>:<id>" where id is the
// SMSC's receipted_message_id when the MO carries one, else a hash of
// sender, recipient, coding and text plus the reception time. The time
// keeps a text sent twice from being taken for one message; a redelivery of
// a message that was stored but whose answer was lost with the connection
// (remembered for 10 minutes) gets the first id back, so the store keeps it
// once.
//
// Every deliver_sm_resp is ESME_ROK only after handle returned nil for its
// event (durably stored), ESME_RX_T_APPN (the SMSC retries) when handle
// failed or too many events wait. handle gets batches from one goroutine.
// The responses of the parts of a concatenated MO are held until the whole
// message is stored, but only for ConcatHold (an SMSC that sends one part
// at a time waits for each response): held parts are then answered
// ESME_ROK and live in memory only — lost on a crash or Close before the
// message completes. After ConcatTimeout the parts received are reported,
// a missing part shown as "…". A part redelivered after its message was
// stored is answered ESME_ROK and not reported again.
package smsc
