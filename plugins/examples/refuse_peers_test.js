export const cases = [
  {
    name: "an unlisted peer may reserve",
    hook: "onReservation",
    input: [{ peer: "12D3KooWLRPJAA5o6zNcWJjW3QLRzSmt1CjSWAHe1TBeNTNXdBWi", ip: "192.0.2.1" }],
    expect: { accept: true },
  },
];
