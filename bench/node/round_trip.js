// An agency's RPC round trip from Node.js with amqplib, following docs/rpc-wire.md alone:
// a reply queue named after the user, one request at a time to cadre_registry.get_unit.
// Run by bench/agency_round_trip.py, which prints the figures; alone:
//   AMQP_URL=amqp://user:pw@127.0.0.1:5672/vhost AGENCY=user UNIT_ID=… CALLS=300 NODELAY=1 \
//     node bench/node/round_trip.js
// prints {"calls": N, "nodelay": true, "p50_ms": …, "p99_ms": …} on one line.
"use strict";
const amqp = require("amqplib");
const crypto = require("crypto");

async function main() {
  const { AMQP_URL, AGENCY, UNIT_ID } = process.env;
  const calls = Number(process.env.CALLS || 300);
  const noDelay = process.env.NODELAY === "1";
  const connection = await amqp.connect(AMQP_URL, { noDelay });
  const channel = await connection.createChannel();
  await channel.checkExchange("nameko-rpc");
  const replyKey = crypto.randomUUID();
  const queue = `rpc.reply-${AGENCY}-${replyKey}`;
  await channel.assertQueue(queue, {
    durable: false,
    arguments: { "x-expires": 300000, "x-queue-type": "classic" },
  });
  await channel.bindQueue(queue, "nameko-rpc", replyKey);
  const waiting = new Map();
  await channel.consume(queue, (message) => {
    channel.ack(message);
    const done = waiting.get(message.properties.correlationId);
    if (done) done(JSON.parse(message.content.toString("utf8")));
  });
  const body = Buffer.from(JSON.stringify({ args: [{ unit_id: UNIT_ID }], kwargs: {} }));
  const call = () => new Promise((resolve) => {
    const correlationId = crypto.randomUUID();
    waiting.set(correlationId, resolve);
    channel.publish("nameko-rpc", "cadre_registry.get_unit", body, {
      userId: AGENCY, replyTo: replyKey, correlationId, contentType: "application/json",
      contentEncoding: "utf-8", deliveryMode: 2,
    });
  });
  const times = [];
  for (let n = 0; n < calls + 20; n++) {
    const started = process.hrtime.bigint();
    const reply = await call();
    if (reply.error) throw new Error(JSON.stringify(reply.error));
    if (n >= 20) times.push(Number(process.hrtime.bigint() - started) / 1e6); // 20 to warm up
  }
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  console.log(JSON.stringify({ calls, nodelay: noDelay, p50_ms: at(0.5), p99_ms: at(0.99) }));
  await connection.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
