const { WebClient } = require("@slack/web-api");
const web = new WebClient("@@slack-token@@");
module.exports = web;
