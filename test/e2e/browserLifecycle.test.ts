import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { testNode } from '../support/node.js';
import { channelItem, launchChromium, loginAs, message, messageBodies, openApp, send, until, users, waitMessage } from '../support/browser.js';

// The web client's message lifecycle (issue 12) between two pages: edit,
// delete, reactions and replies arrive as entries of the channel log and
// change the message they name, live and on a page that was away; ticks under
// my 1:1 messages go sent -> delivered -> read.

let env: Awaited<ReturnType<typeof testNode>>;
let browser: Browser;
before(async () => {
  browser = await launchChromium();
  env = await testNode();
});
after(async () => {
  await browser?.close();
  await env?.stop();
});

const tick = (p: Page, body: string) => message(p, body).locator('.receipt').getAttribute('data-tick');
const chip = (p: Page, body: string, emoji: string) => message(p, body).locator('.reaction', { hasText: emoji });
const waitChip = (p: Page, body: string, text: string, mine: boolean) =>
  message(p, body)
    .locator(`.reaction${mine ? '.mine' : ':not(.mine)'}`, { hasText: new RegExp(`^${text}$`) })
    .waitFor();

async function act(p: Page, body: string, action: string) {
  await message(p, body).hover();
  await message(p, body).locator(`.act.${action}`).click();
}

test('browser lifecycle: ticks, edit, reactions, reply and delete between two pages, then replayed to a page that was away', { timeout: 120_000 }, async () => {
  const [a, b] = await users(env.api, 'amy', 'bo');
  const errors: string[] = [];
  const pa = await openApp(browser, `http://127.0.0.1:${env.node.webPort}/`, errors);
  let pb = await openApp(browser, `http://127.0.0.1:${env.node.webPort}/`, errors);
  await loginAs(pa, a!.userName);
  await loginAs(pb, b!.userName);
  await pa.fill('#direct-form input[name=peer]', b!.userName);
  await pa.click('#direct-form button');
  await pa.locator('#conv-title', { hasText: b!.userName }).waitFor();

  // Ticks: sent, delivered once Bo's page has it (not open), read once he opens the chat.
  await send(pa, 'helo');
  await waitMessage(pa, 'helo');
  assert.match((await tick(pa, 'helo')) ?? '', /^(sent|delivered)$/);
  await until(async () => (await tick(pa, 'helo')) === 'delivered', 'the delivered tick', 8000);
  await channelItem(pb, a!.userName).click();
  await waitMessage(pb, 'helo');
  await until(async () => (await tick(pa, 'helo')) === 'read', 'the read tick');
  assert.equal(await message(pb, 'helo').locator('.receipt').count(), 0, 'no ticks under the other side’s messages');

  // Edit (own messages only): the new text with an "edited" mark on both pages.
  assert.equal(await message(pb, 'helo').locator('.act.edit').count(), 0, 'Bo cannot edit Amy’s message');
  await act(pa, 'helo', 'edit');
  assert.equal(await pa.inputValue('#composer input[name=body]'), 'helo');
  await pa.fill('#composer input[name=body]', 'hello');
  await pa.press('#composer input[name=body]', 'Enter');
  for (const p of [pa, pb]) await message(p, 'hello').locator('.edited').waitFor();

  // Reactions: Bo adds 👍, Amy adds one too (count 2), Bo takes his back.
  await act(pb, 'hello', 'react');
  await message(pb, 'hello').locator('.picker .emoji', { hasText: '👍' }).click();
  await waitChip(pb, 'hello', '👍 1', true);
  await waitChip(pa, 'hello', '👍 1', false);
  await chip(pa, 'hello', '👍').click();
  await waitChip(pa, 'hello', '👍 2', true);
  await waitChip(pb, 'hello', '👍 2', true);
  await chip(pb, 'hello', '👍').click();
  await waitChip(pb, 'hello', '👍 1', false);
  await waitChip(pa, 'hello', '👍 1', true);

  // Reply: quotes the message it answers.
  await act(pb, 'hello', 'reply');
  await pb.locator('#compose-mode:visible', { hasText: 'Replying to' }).waitFor();
  await send(pb, 'hi back');
  for (const p of [pa, pb])
    await message(p, 'hi back')
      .locator('.quote', { hasText: `${a!.userName}: hello` })
      .waitFor();

  // Delete for everyone (a second click confirms): a tombstone on both pages; the reply still says it was one.
  await act(pa, 'hello', 'delete');
  await message(pa, 'hello').locator('.act.delete.confirm').click();
  for (const p of [pa, pb]) {
    await message(p, 'message deleted').waitFor();
    await message(p, 'hi back').locator('.quote', { hasText: 'a deleted message' }).waitFor();
    assert.equal(await message(p, 'message deleted').locator('.reaction').count(), 0);
  }

  // Bo goes away; Amy edits nothing but reacts to his reply and sends one more. He comes back: the replay applies each once.
  const ctxB = pb.context();
  await pb.close();
  await act(pa, 'hi back', 'react');
  await message(pa, 'hi back').locator('.picker .emoji', { hasText: '❤️' }).click();
  await waitChip(pa, 'hi back', '❤️ 1', true);
  await send(pa, 'are you there');
  await waitMessage(pa, 'are you there');
  pb = await openApp(browser, `http://127.0.0.1:${env.node.webPort}/`, errors, ctxB);
  await pb.waitForSelector('#conn[data-state=live]');
  await channelItem(pb, a!.userName).click();
  await waitMessage(pb, 'are you there');
  await waitChip(pb, 'hi back', '❤️ 1', false);
  await until(async () => (await messageBodies(pb)).length === 3, 'the history page');
  assert.deepEqual(await messageBodies(pb), ['message deleted', 'hi back', 'are you there']);
  await message(pb, 'hi back').locator('.quote', { hasText: 'a deleted message' }).waitFor();
  assert.equal(await message(pb, 'hi back').locator('.reaction').count(), 1, 'the reaction once');
  assert.deepEqual(errors, []);
  await pa.context().close();
  await ctxB.close();
});
