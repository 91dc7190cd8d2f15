// Package twilio is wabridge's adapter for Twilio as a WhatsApp provider
// (and, later, as an SMS route): the X-Twilio-Signature check of Twilio's
// webhooks (Validate, ValidateJSON), the parsing of its form-encoded inbound
// message and status callback webhooks into bridge events (ParseWebhook), and
// the classification of Twilio's error codes into the bridge's actions and
// reasons (Classify).
//
// Twilio documents the webhooks at
// https://www.twilio.com/docs/messaging/guides/webhook-request (inbound),
// https://www.twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks
// (status callbacks) and the signature at
// https://www.twilio.com/docs/usage/webhooks/webhooks-security. Twilio warns
// that parameters are added without notice: the parser reads the ones it
// knows and keeps every parameter in the events' raw JSON.
package twilio
