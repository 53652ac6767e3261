// The deployed console's config.json, made from a stack description.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { consoleConfig } from '../scripts/deploy-config.mjs';

const stack = (outputs, params) => ({
  Stacks: [{ Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })), Parameters: Object.entries(params).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue })) }],
});

test('config from the ApiUrl output and the JwtIssuer / JwtAudience parameters', () => {
  const c = consoleConfig(stack({ ApiUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com/dev/', ConsoleUrl: 'https://d1.cloudfront.net' }, { JwtIssuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X/', JwtAudience: 'client1,client2' }));
  assert.deepEqual(c, { apiBase: 'https://abc.execute-api.eu-west-1.amazonaws.com/dev', issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X', clientId: 'client1', scope: 'openid email', apiToken: 'access' });
});

test('ConsoleIssuer and ConsoleClientId outputs win over the parameters', () => {
  const c = consoleConfig(stack({ ApiUrl: 'https://a/dev', ConsoleIssuer: 'https://idp.example/pool', ConsoleClientId: 'console' }, { JwtIssuer: 'https://other', JwtAudience: 'x' }));
  assert.equal(c.issuer, 'https://idp.example/pool');
  assert.equal(c.clientId, 'console');
});

test("the stack's own Cognito pool: issuer and app client from its outputs, the ID token for the API", () => {
  const c = consoleConfig(stack({ ApiUrl: 'https://a/dev', JwtIssuerUrl: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_P', UserPoolClientId: 'app1', AuthDomain: 'https://x.auth.eu-west-1.amazoncognito.com' }, { JwtIssuer: '' }));
  assert.deepEqual(c, { apiBase: 'https://a/dev', issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_P', clientId: 'app1', scope: 'openid email', apiToken: 'id' });
});

test('a description without what the console needs is refused, saying what is missing', () => {
  assert.throws(() => consoleConfig(stack({}, {})), /lacks the ApiUrl output, a ConsoleIssuer or JwtIssuerUrl output or the JwtIssuer parameter, a ConsoleClientId or UserPoolClientId output or the JwtAudience parameter/);
  assert.throws(() => consoleConfig(stack({ ApiUrl: 'http://insecure/dev' }, { JwtIssuer: 'https://i', JwtAudience: 'c' })), /not an https URL/);
});
