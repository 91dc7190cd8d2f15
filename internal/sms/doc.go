// Package sms is the SMS text layer shared by the SMPP server (SMSC side) and
// the upstream SMPP client: it converts between UTF-8 and the SMPP
// data_coding alphabets (GSM 03.38, IA5, Latin-1, UCS-2), splits long texts
// into concatenated segments, parses and builds concatenation user data
// headers and sar_* TLV values, formats and parses delivery receipt texts
// (SMPP 3.4 Appendix B), and reads SMPP absolute/relative time strings.
//
// The package imports nothing of this repository and holds no mutable
// global state: the GSM character tables are built once and only read
// afterwards, so every function is safe for concurrent use.
//
// SMPP carries GSM 03.38 text unpacked: one septet per octet. Nothing in
// this package packs or unpacks septets.
package sms
