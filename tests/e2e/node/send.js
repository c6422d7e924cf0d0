// Sends one message with nodemailer, as an application would: the end-to-end
// tests' JavaScript client of `postie capture` (tests/e2e/test_capture.py).
//   node send.js HOST PORT SUBJECT [USER PASS]
const nodemailer = require("nodemailer");

const [host, port, subject, user, pass] = process.argv.slice(2);
const transport = nodemailer.createTransport({
  host,
  port: Number(port),
  secure: false,
  ignoreTLS: true,
  ...(user ? { auth: { user, pass } } : {}),
});
transport
  .sendMail({
    from: "Node App <node-app@example.com>",
    to: "someone@example.org",
    subject,
    text: "sent by nodemailer",
    html: "<p>sent by <b>nodemailer</b></p>",
  })
  .then((info) => {
    console.log(JSON.stringify({ response: info.response, messageId: info.messageId }));
  })
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
