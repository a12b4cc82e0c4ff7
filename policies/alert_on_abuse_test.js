export const cases = [
  {
    name: "a few rejections are normal",
    snapshot: { limiter: { rejections: { "connection.rate_ip": 20 } } },
    expect: { verdict: "healthy", actions: [] },
  },
  {
    name: "a spike raises a warning",
    snapshot: {
      node: { peerId: "12D3KooWLRPJAA5o6zNcWJjW3QLRzSmt1CjSWAHe1TBeNTNXdBWi" },
      limiter: { rejections: { "connection.rate_ip": 700 } },
    },
    expect: {
      verdict: "degraded",
      actions: [{
        type: "alert",
        severity: "warning",
        summary:
          "Abuse spike on 12D3KooWLRPJAA5o6zNcWJjW3QLRzSmt1CjSWAHe1TBeNTNXdBWi: 700 rejections in one tick",
        labels: { alertname: "HopdAbuseSpike", top_talkers: "" },
      }],
    },
  },
];
