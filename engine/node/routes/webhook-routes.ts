/**
 * Admin-only webhook routes: register, list, update (URL, filter, secret rotation),
 * remove, and the dead letters (list, redeliver). Registrations are events in the
 * `webhooks` stream, so every node of a cluster sees them; each write answers once this
 * node's read model has it.
 */
import { randomUUID } from 'node:crypto';
import type { Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ParleyError } from '../../../protocol/index.js';
import { WebhookParams, WebhookQueries, WebhookRequests, WebhookResponses } from '../../../protocol/schema/index.js';
import { MAX_DEAD_LETTERS_PER_WEBHOOK, deadLetterCount, deadLettersOf, listWebhooks, webhookById, type ReadModelRunner, type WebhookView } from '../../../projections/index.js';
import { toNewEvents } from '../../domain/index.js';
import { headCursorOf, partitionsOf, type EventStore } from '../../store/index.js';
import { WEBHOOKS_STREAM, deliverable, eventAt, generateSecret, headersFor, payloadOf, readCheckpoint, requireKey, seal, secretKey, send, unseal, urlProblem, type WebhookSettings } from '../webhooks/index.js';
import { requireAdmin } from './admin-routes.js';
import { errorResponses } from './responses.js';

export interface WebhookRoutesDeps {
  readonly store: EventStore;
  readonly runner: Pick<ReadModelRunner, 'db' | 'waitFor' | 'waitForCursor'>;
  readonly settings: WebhookSettings;
}

type Params = Static<typeof WebhookParams.webhook>;

export const webhookRoutes: FastifyPluginAsync<WebhookRoutesDeps> = async (app, { store, runner, settings }) => {
  /** The start of a secret, enough to tell two apart; a secret sealed under another key shows as such. */
  const hintOf = (stored: string) => {
    const secret = unseal(settings.sealKey, stored);
    return secret === undefined ? '(sealed under another key)' : `${secret.slice(0, 10)}…`;
  };
  app.addHook('onRequest', app.authenticate);
  app.addHook('onRequest', requireAdmin);

  /** Appends to the webhooks stream and waits until this node's read model has it. */
  const record = async (type: string, data: object, actor: string): Promise<void> => {
    const result = await store.append(WEBHOOKS_STREAM, toNewEvents([{ type, data }], { actor, commandId: randomUUID() }), { expectedVersion: 'any' });
    await runner.waitFor(result.events[result.events.length - 1]!.position);
  };
  const existing = async (id: string): Promise<WebhookView> => {
    await runner.waitForCursor(await headCursorOf(store)).catch(() => undefined);
    const webhook = webhookById(runner.db, id);
    if (!webhook) throw new ParleyError('not_found', `No webhook ${id}`);
    return webhook;
  };
  const checkSecret = (secret: string | undefined) => {
    if (secret !== undefined && !secretKey(secret)) throw new ParleyError('invalid_request', 'secret: whsec_ and the base64 of 24 to 64 bytes');
  };
  const checkUrl = (url: string) => {
    const problem = urlProblem(url, settings.allowPrivate);
    if (problem) throw new ParleyError('invalid_request', `url: ${problem}`);
  };

  app.post<{ Body: Static<typeof WebhookRequests.register> }>(
    '/v1/admin/webhooks',
    { schema: { summary: 'Registers a webhook endpoint (signed with Standard Webhooks)', body: WebhookRequests.register, response: { 201: WebhookResponses.registered, ...errorResponses } } },
    async (request, reply) => {
      const { url, eventTypes = [], secret = generateSecret() } = request.body;
      checkUrl(url);
      checkSecret(secret);
      if (listWebhooks(runner.db).length >= settings.maxEndpoints) {
        throw new ParleyError('limit_exceeded', `At most ${settings.maxEndpoints} webhooks (PARLEY_WEBHOOK_MAX_ENDPOINTS)`);
      }
      const webhookId = randomUUID();
      const secrets = [{ secret: seal(requireKey(settings.sealKey), secret), createdAt: Date.now(), expiresAt: null }];
      // A partitioned log has no order across partitions: delivery starts from the head as it is now (lane-start.ts).
      const from = partitionsOf(store) > 1 ? { from: (await headCursorOf(store)).encode() } : {};
      await record('WebhookRegistered', { webhookId, url, eventTypes, secrets, registeredBy: request.user.sub, ...from }, request.user.sub);
      return reply.code(201).send({ webhookId, url, eventTypes, secret });
    },
  );

  app.get('/v1/admin/webhooks', { schema: { summary: 'The webhook endpoints, their cursors and dead-letter counts', response: { 200: WebhookResponses.list, ...errorResponses } } }, async () => {
    const checkpoint = await readCheckpoint(store);
    await runner.waitForCursor(await headCursorOf(store)).catch(() => undefined);
    const now = Date.now();
    return {
      webhooks: listWebhooks(runner.db).map((w) => ({
        webhookId: w.webhookId,
        url: w.url,
        eventTypes: w.eventTypes,
        secrets: w.secrets.filter((s) => s.expiresAt === null || s.expiresAt > now).map((s) => ({ hint: hintOf(s.secret), createdAt: s.createdAt, expiresAt: s.expiresAt })),
        cursor: checkpoint.cursors.get(w.webhookId) ?? w.registeredPosition,
        deadLetters: deadLetterCount(runner.db, w.webhookId),
      })),
      deliveringNode: checkpoint.leaseUntil > now ? checkpoint.nodeId : '',
      leaseUntil: checkpoint.leaseUntil,
    };
  });

  app.patch<{ Params: Params; Body: Static<typeof WebhookRequests.update> }>(
    '/v1/admin/webhooks/:webhookId',
    { schema: { summary: 'Changes a webhook: URL, event types, or a new secret (the old one signs too until the rotation window ends)', params: WebhookParams.webhook, body: WebhookRequests.update, response: { 200: WebhookResponses.registered, ...errorResponses } } },
    async (request) => {
      const webhook = await existing(request.params.webhookId);
      const { url = webhook.url, eventTypes = webhook.eventTypes, rotateSecret, secret } = request.body;
      checkUrl(url);
      checkSecret(secret);
      const now = Date.now();
      let secrets = webhook.secrets.filter((s) => s.expiresAt === null || s.expiresAt > now);
      let fresh: string | undefined;
      if (rotateSecret || secret !== undefined) {
        fresh = secret ?? generateSecret();
        const until = now + settings.rotationSeconds * 1000;
        // Only the newest old secret stays in the window: a rotation bounds the set to two.
        const previous = secrets.filter((s) => s.expiresAt === null).map((s) => ({ ...s, expiresAt: until }));
        secrets = [{ secret: seal(requireKey(settings.sealKey), fresh), createdAt: now, expiresAt: null }, ...(settings.rotationSeconds > 0 ? previous : [])];
      }
      await record('WebhookUpdated', { webhookId: webhook.webhookId, url, eventTypes, secrets, updatedBy: request.user.sub }, request.user.sub);
      return { webhookId: webhook.webhookId, url, eventTypes, ...(fresh !== undefined && { secret: fresh }) };
    },
  );

  app.delete<{ Params: Params }>(
    '/v1/admin/webhooks/:webhookId',
    { schema: { summary: 'Removes a webhook and its dead letters', params: WebhookParams.webhook, response: { 200: WebhookResponses.removed, ...errorResponses } } },
    async (request) => {
      const webhook = await existing(request.params.webhookId);
      await record('WebhookRemoved', { webhookId: webhook.webhookId, removedBy: request.user.sub }, request.user.sub);
      return { webhookId: webhook.webhookId, removed: true };
    },
  );

  app.get<{ Params: Params; Querystring: Static<typeof WebhookQueries.deadLetters> }>(
    '/v1/admin/webhooks/:webhookId/dead-letters',
    { schema: { summary: 'Events that failed every attempt, oldest first', params: WebhookParams.webhook, querystring: WebhookQueries.deadLetters, response: { 200: WebhookResponses.deadLetters, ...errorResponses } } },
    async (request) => {
      const webhook = await existing(request.params.webhookId);
      const deadLetters = deadLettersOf(runner.db, webhook.webhookId, request.query.limit).map(({ webhookId: _w, ...rest }) => rest);
      return { deadLetters };
    },
  );

  app.post<{ Params: Static<typeof WebhookParams.deadLetter>; Body: Static<typeof WebhookRequests.redeliver> }>(
    '/v1/admin/webhooks/:webhookId/dead-letters/:position/redeliver',
    { schema: { summary: 'Delivers the event at a position once more, now (a dead letter, or any event the endpoint takes); a 2xx removes its dead letter', params: WebhookParams.deadLetter, body: WebhookRequests.redeliver, response: { 200: WebhookResponses.redelivered, ...errorResponses } } },
    async (request) => {
      const webhook = await existing(request.params.webhookId);
      const { position } = request.params;
      // Any event the endpoint takes can be sent again (a replay); a dead letter is the usual one.
      const event = await eventAt(store, position);
      if (!event || !deliverable(webhook, event)) {
        throw new ParleyError('not_found', `No event at position ${position} that webhook ${webhook.webhookId} takes`);
      }
      const body = payloadOf(event);
      const headers = headersFor(webhook, settings.sealKey, event, body);
      if (!headers) throw new ParleyError('invalid_request', 'No secret of this webhook can be unsealed (PARLEY_WEBHOOK_KEY or PARLEY_JWT_SECRET changed): rotate its secret');
      const result = await send(webhook.url, headers, body, { timeoutMs: settings.timeoutMs, allowPrivate: settings.allowPrivate });
      if (result.ok && deadLettersOf(runner.db, webhook.webhookId, MAX_DEAD_LETTERS_PER_WEBHOOK).some((d) => d.position === position)) {
        await record('WebhookRedelivered', { webhookId: webhook.webhookId, position, redeliveredBy: request.user.sub }, request.user.sub);
      }
      return { delivered: result.ok, status: result.status, ...(result.error !== undefined && { error: result.error }) };
    },
  );
};
