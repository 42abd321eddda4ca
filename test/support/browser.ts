import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { registerAndLogin, type Api, type Device } from './client.js';

// Helpers of the browser tests: the bundled web client (web/dist/app.js) in
// headless Chromium against a test node's own grpc-web endpoint and static files.

const CHROMIUM = '/usr/bin/chromium';
export const PASSWORD = 'correct horse battery';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    assert.fail(`Debian chromium is not installed at ${CHROMIUM}: run \`make infra\` (apt-get install -y chromium) to set up the browser tests`);
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

export async function until(pred: () => boolean | Promise<boolean>, what: string, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Native users (registered over gRPC, one device 'native' each), named `<prefix>_<random>`. */
export async function users(api: Api, ...prefixes: string[]): Promise<Device[]> {
  const t = randomUUID().slice(0, 6);
  const out: Device[] = [];
  for (const p of prefixes) out.push(...(await registerAndLogin(api, `${p}_${t}`, ['native'], PASSWORD)));
  return out;
}

/** A browser page at `url` (a context of its own unless `ctx`: own storage), collecting page errors into `errors`. */
export async function openApp(browser: Browser, url: string, errors: string[], ctx?: BrowserContext): Promise<Page> {
  ctx ??= await browser.newContext();
  ctx.setDefaultTimeout(10_000);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && !/Failed to load resource/.test(m.text()) && errors.push(`console: ${m.text()}`));
  await page.goto(url);
  return page;
}

export async function loginAs(page: Page, userName: string) {
  await page.fill('#login-form input[name=user]', userName);
  await page.fill('#login-form input[name=password]', PASSWORD);
  assert.match(await page.inputValue('#login-form input[name=device]'), /^web-[0-9a-f]{8}$/);
  await page.click('#login-form button[type=submit]:not(#register)');
  await page.waitForSelector('#conn[data-state=live]');
}

export const channelItem = (page: Page, name: string) => page.locator('#channels li', { hasText: name });
export const messageBodies = (page: Page) => page.locator('#messages .msg:not(.pending) .body').allTextContents();
export const message = (page: Page, body: string) =>
  page.locator('#messages .msg:not(.pending)', { has: page.locator('.body', { hasText: new RegExp(`^${body}$`) }) });
export const waitMessage = (page: Page, body: string) => message(page, body).waitFor();

export async function send(page: Page, body: string) {
  await page.fill('#composer input[name=body]', body);
  await page.press('#composer input[name=body]', 'Enter');
}
