package whatsapp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// NumberHealth is a business number's standing with WhatsApp (GET
// /{phone_number_id}?fields=…).
type NumberHealth struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	// QualityRating is GREEN, YELLOW, RED or UNKNOWN.
	QualityRating string `json:"quality_rating"`
	// MessagingLimit is the portfolio's tier (TIER_250, TIER_2K, TIER_10K,
	// TIER_100K, TIER_UNLIMITED); whatsapp_business_manager_messaging_limit.
	MessagingLimit string `json:"whatsapp_business_manager_messaging_limit"`
	Throughput     struct {
		Level string `json:"level"`
	} `json:"throughput"`
}

const healthFields = "display_phone_number,quality_rating,whatsapp_business_manager_messaging_limit,throughput"

// Health reads a business number's quality rating, messaging limit and
// throughput level.
func (c *Client) Health(ctx context.Context, business string) (*NumberHealth, error) {
	id, ok := c.PhoneNumberID(business)
	if !ok {
		return nil, fmt.Errorf("whatsapp: %s is not a configured business number", business)
	}
	data, err := c.call(ctx, "number_health", http.MethodGet, c.base+"/"+url.PathEscape(id)+"?fields="+url.QueryEscape(healthFields), nil)
	if err != nil {
		return nil, err
	}
	var h NumberHealth
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("whatsapp: unreadable phone number fields: %w", err)
	}
	return &h, nil
}

// TierLimit is the number of customers a messaging-limit tier allows per
// 24 hours (0 for unlimited, -1 when unknown).
func TierLimit(tier string) int {
	switch tier {
	case "TIER_50":
		return 50
	case "TIER_250":
		return 250
	case "TIER_1K":
		return 1000
	case "TIER_2K":
		return 2000
	case "TIER_10K":
		return 10000
	case "TIER_100K":
		return 100000
	case "TIER_UNLIMITED", "UNLIMITED":
		return 0
	}
	return -1
}
