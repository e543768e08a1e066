// The Node.js tutorial's flow, for timing side by side with the Python helpers.
// Written for this benchmark (not the tutorial's text): simple-oauth2 builds the authorization
// URL and exchanges the code (HTTP Basic, form-encoded credentials); Express listens on the
// redirect URI and checks `state`.
//
// Configuration comes from the environment: OAUTH_SERVICE_URL, OAUTH_CLIENT_ID,
// OAUTH_CLIENT_SECRET, OAUTH_REDIRECT_URI, OAUTH_SCOPES.
// Protocol on stdin/stdout, so one process can run many sign-ins (node's start-up is not timed):
//   each line "go" on stdin starts a sign-in;  stdout: "URL <authorization url>", then
//   "TOKEN <principal>" when the access token has arrived (or "ERROR <message>").
'use strict';

const crypto = require('node:crypto');
const readline = require('node:readline');
const express = require('express');
const { AuthorizationCode } = require('simple-oauth2');

const redirectUri = new URL(process.env.OAUTH_REDIRECT_URI);
const scope = process.env.OAUTH_SCOPES || 'messaging.v1.send';

const oauthClient = new AuthorizationCode({
  client: { id: process.env.OAUTH_CLIENT_ID, secret: process.env.OAUTH_CLIENT_SECRET },
  auth: {
    tokenHost: process.env.OAUTH_SERVICE_URL,
    authorizePath: '/oauth/authorize',
    tokenPath: '/oauth/token',
  },
});

function signIn() {
  return new Promise((resolve) => {
    const state = crypto.randomBytes(15).toString('hex');
    const url = oauthClient.authorizeURL({ redirect_uri: redirectUri.href, scope, state });
    const app = express();
    let server;
    const finish = (line) => {
      console.log(line);
      server.closeAllConnections();
      server.close(() => resolve());
    };
    app.get(redirectUri.pathname, async (req, res) => {
      if (req.query.state !== state) {
        res.status(403).send('state mismatch');
        return;
      }
      if (req.query.error) {
        res.send('Access was not granted.');
        finish(`ERROR ${req.query.error}`);
        return;
      }
      try {
        const accessToken = await oauthClient.getToken({
          code: req.query.code,
          redirect_uri: redirectUri.href,
          scope,
        });
        res.send('Signed in: you can close this tab.');
        finish(`TOKEN ${accessToken.token.principal}`);
      } catch (error) {
        res.status(500).send('The token exchange failed.');
        finish(`ERROR ${error.message}`);
      }
    });
    server = app.listen(Number(redirectUri.port), redirectUri.hostname, () => {
      console.log(`URL ${url}`);
    });
  });
}

const lines = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on('line', (line) => {
  if (line.trim() === 'go') queue = queue.then(signIn);
});
lines.on('close', () => queue.then(() => process.exit(0)));
console.log('READY');
