package bridge

// Reason is why a message failed or was refused: a fixed, documented
// vocabulary shared by every edge (REST error.reason, SMPP vendor TLV, DSN).
type Reason string

// Reasons. See docs/reasons.md for when each is used.
const (
	// ReasonWindowClosed: freeform content outside the 24-hour customer-service window.
	ReasonWindowClosed Reason = "window_closed"
	// ReasonNotOnWhatsApp: the customer cannot receive WhatsApp messages (131026, 130472).
	ReasonNotOnWhatsApp Reason = "not_on_whatsapp"
	// ReasonTemplateError: the template or its parameters were refused (132xxx).
	ReasonTemplateError Reason = "template_error"
	// ReasonUpstreamError: the provider failed, or refused for a reason not listed here.
	ReasonUpstreamError Reason = "upstream_error"
	// ReasonAccountError: the business account cannot send (auth, policy, payment).
	ReasonAccountError Reason = "account_error"
	// ReasonInvalid: the message was malformed (bad number, missing body).
	ReasonInvalid Reason = "invalid"
	// ReasonMediaTooLarge: a media file is over WhatsApp's limit for its type.
	ReasonMediaTooLarge Reason = "media_too_large"
	// ReasonMediaUnsupported: WhatsApp does not accept the file's type as that media kind.
	ReasonMediaUnsupported Reason = "media_type_unsupported"
	// ReasonMediaUnavailable: a customer's media could not be fetched (expired, refused, too large).
	ReasonMediaUnavailable Reason = "media_unavailable"
	// ReasonOptedOut: the customer stopped these messages (131050, STOP).
	ReasonOptedOut Reason = "opted_out"
	// ReasonNoTemplate: no approved template matches text that cannot go freeform.
	ReasonNoTemplate Reason = "no_template"
	// ReasonUSMarketingBlocked: marketing templates are not delivered to US numbers.
	ReasonUSMarketingBlocked Reason = "us_marketing_blocked"
	// ReasonTierLimit: the messaging limit tier was reached.
	ReasonTierLimit Reason = "tier_limit"
	// ReasonExpired: the validity period ended before delivery.
	ReasonExpired Reason = "expired"
	// ReasonCancelled: the submitter cancelled the message.
	ReasonCancelled Reason = "cancelled"
	// ReasonSMSFailed: the SMS fallback was not delivered (the SMSC's
	// receipt said UNDELIV, REJECTD, EXPIRED or DELETED, or it refused
	// the submission).
	ReasonSMSFailed Reason = "sms_failed"
)
