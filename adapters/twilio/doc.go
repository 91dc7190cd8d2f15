// Package twilio is wabridge's adapter for Twilio as a WhatsApp provider and
// as an SMS route: the X-Twilio-Signature check of Twilio's webhooks
// (Validate, ValidateJSON), the parsing of its form-encoded inbound message
// and status callback webhooks into bridge events (ParseWebhook) and SMS
// events (SMSEvents, IsSMS), the classification of Twilio's error codes into
// the bridge's actions and reasons (Classify), and the REST client (Client):
// WhatsApp sends through the Messages API (Send), Content templates from the
// Content API (Templates), media by URL (Upload, Download) and SMS
// (Client.SMSRoute).
//
// There is no MarkRead: Twilio's Messages API has no read receipt for
// inbound WhatsApp messages. Its Typing Indicators resource (Public Beta,
// POST https://messaging.twilio.com/v2/Indicators/Typing.json with
// channel=whatsapp and messageId=SM…, twilio.com/docs/whatsapp/api/
// typing-indicators-resource) marks the message read as a side effect of
// showing a typing indicator; it is not used.
//
// Twilio documents the webhooks at
// https://www.twilio.com/docs/messaging/guides/webhook-request (inbound),
// https://www.twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks
// (status callbacks) and the signature at
// https://www.twilio.com/docs/usage/webhooks/webhooks-security. Twilio warns
// that parameters are added without notice: the parser reads the ones it
// knows and keeps every parameter in the events' raw JSON.
package twilio
