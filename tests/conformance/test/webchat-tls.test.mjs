// 5b. The WebChat tests of webchat.test.mjs over TLS: a gateway with gateway.tls on (its generated
// self-signed pair), the page loaded over https:// in Chromium (ignoreHTTPSErrors, as a user who
// accepted the certificate) and connecting back over wss://. Same checks, same schema validation.

process.env.CLAWGATE_WEBCHAT_TLS = "1";
await import("./webchat.test.mjs");
