// browser.mjs: the web admin's browser test (suite integration, TAP).
//
// Debian's chromium, driven by playwright-core, logs in, uploads a dataset
// (iris from deploy/datasets/convert) and a model (the zoo's
// rafiki-xgb-classifier.so), starts a small train job, watches its trials
// appear live, opens a trial and sees its plot drawn, deploys an inference
// job and gets a prediction from the query box, checking what a user sees at
// each step and saving a screenshot of each page under SCREENSHOT_DIR.
//
// Backend: the real `rafikid up` on free ports with a temporary data dir and
// no web configuration (admin finds the build's web/www by itself). Without
// an `up` role in rafikid every step is skipped, saying why; steps that need
// training or serving are skipped, saying why, while rafikid lacks their
// roles (advisor/trainer, predictor/inference). Live updates are checked at
// the source: the test listens to the page's EventSource messages through
// the DevTools protocol and expects the trials' TrialUpdate events there.
//
// Environment (meson sets it): RAFIKID, WEB_DIR (the built site), WEB_STAGE
// (node_modules with playwright-core), XGB_SO, CONVERT, SCREENSHOT_DIR;
// optional CHROMIUM (default /usr/bin/chromium).
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const env = process.env;
const STEP_TIMEOUT_MS = 60_000;
const TRAIN_TIMEOUT_MS = 240_000;
const PASSWORD = 'web-test-' + Math.random().toString(36).slice(2);
const EMAIL = 'superadmin@rafiki';
const SCREENSHOTS = env.SCREENSHOT_DIR || path.resolve('web-screenshots');
const CHROMIUM = env.CHROMIUM || '/usr/bin/chromium';

// ---- TAP ---------------------------------------------------------------

let count = 0;
let failures = 0;
const failed = new Set();
const diag = (text) => console.log(String(text).split('\n').map((line) => '# ' + line).join('\n'));

// Runs one step: ok, not ok (with the error), or a SKIP with its reason.
// A step whose prerequisite failed is skipped naming that step.
async function step(name, { skip, after = [] } = {}, fn) {
  count++;
  const blocked = after.find((dep) => failed.has(dep));
  if (skip || blocked) {
    console.log(`ok ${count} - ${name} # SKIP ${skip || `needs "${blocked}", which did not pass`}`);
    failed.add(name);
    return;
  }
  try {
    await fn();
    console.log(`ok ${count} - ${name}`);
  } catch (error) {
    failures++;
    failed.add(name);
    console.log(`not ok ${count} - ${name}`);
    diag(error && error.stack ? error.stack : String(error));
  }
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// ---- the backend -------------------------------------------------------

function roles(rafikid) {
  if (!rafikid || !fs.existsSync(rafikid)) return [];
  const help = spawnSync(rafikid, ['--help'], { encoding: 'utf8' });
  const text = (help.stdout || '') + (help.stderr || '');
  const section = text.split(/\n\s*Roles:\s*\n/)[1] || '';
  return [...section.split(/\n\s*\n/)[0].matchAll(/^\s{2}(\S+)/gm)].map((m) => m[1]);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Waits until GET url/healthz answers 200, or the deadline passes.
async function waitHealthy(url, child, deadlineMs) {
  const deadline = Date.now() + deadlineMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`rafikid up exited with status ${child.exitCode}`);
    try {
      const response = await fetch(url + '/healthz', { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
      last = 'status ' + response.status;
    } catch (error) {
      last = error.message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100)); // retry interval of a deadline wait
  }
  throw new Error(`admin did not answer /healthz within ${deadlineMs} ms (${last})`);
}

async function startReal(dataDir) {
  const ports = [await freePort(), await freePort(), await freePort(), await freePort()];
  const childEnv = {
    ...env,
    RAFIKI_DATA_DIR: dataDir,
    RAFIKI_ADMIN_HTTP_PORT: String(ports[0]),
    RAFIKI_ADMIN_COMMAND_PORT: String(ports[1]),
    RAFIKI_ADMIN_SERVICE_PORT: String(ports[2]),
    RAFIKI_ADMIN_EVENTS_PORT: String(ports[3]),
    RAFIKI_ADMIN_SUPERADMIN_EMAIL: EMAIL,
    RAFIKI_ADMIN_SUPERADMIN_PASSWORD: PASSWORD,
    RAFIKI_LOG_STDERR: 'false',
  };
  // No web configuration: a meson build's rafikid serves its build's web/www.
  delete childEnv.RAFIKI_ADMIN_WEB_DIR;
  const log = fs.openSync(path.join(dataDir, 'rafikid-up.stderr'), 'a');
  const child = spawn(env.RAFIKID, ['up'], { env: childEnv, stdio: ['ignore', log, log], cwd: dataDir });
  const url = `http://127.0.0.1:${ports[0]}`;
  await waitHealthy(url, child, 30_000);
  return {
    url,
    close: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

// ---- helpers on the page -------------------------------------------------

let shot = 0;
async function screenshot(page, name) {
  shot++;
  const file = path.join(SCREENSHOTS, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// Waits until the locator's text matches re.
async function waitText(locator, re, timeout = STEP_TIMEOUT_MS) {
  await locator.filter({ hasText: re }).first().waitFor({ timeout });
}

// A link of the main navigation.
const navLink = (page, name) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });

// Selects the option of a <select> whose text starts with `prefix`.
async function selectByText(select, prefix) {
  const value = await select.evaluate(
    (el, p) => ([...el.options].find((o) => o.textContent.startsWith(p)) || {}).value,
    prefix,
  );
  check(value, `no option starting with "${prefix}"`);
  await select.selectOption(value);
}

// Every visible form control has a name a screen reader can read.
async function checkLabels(page, where) {
  const unlabeled = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea, button')]
      .filter((el) => el.offsetParent !== null)
      .filter((el) => {
        if (el.tagName === 'BUTTON') return !el.textContent.trim() && !el.getAttribute('aria-label');
        return (!el.labels || el.labels.length === 0) && !el.getAttribute('aria-label');
      })
      .map((el) => el.outerHTML.slice(0, 120)),
  );
  check(unlabeled.length === 0, `${where}: controls without a label: ${unlabeled.join(' | ')}`);
}

// Counts the canvas's pixels that are not blank (drawn lines and text).
async function drawnPixels(canvas) {
  return canvas.evaluate((el) => {
    const ctx = el.getContext('2d');
    const { data } = ctx.getImageData(0, 0, el.width, el.height);
    let inked = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked++;
    return inked;
  });
}

// ---- the test ----------------------------------------------------------

async function main() {
  console.log('TAP version 13');
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  for (const old of fs.readdirSync(SCREENSHOTS)) if (old.endsWith('.png')) fs.rmSync(path.join(SCREENSHOTS, old));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rafiki-web-'));
  const have = roles(env.RAFIKID);
  const real = have.includes('up');
  const training = have.includes('advisor') && have.includes('trainer');
  const serving = have.includes('predictor') && have.includes('inference');
  const noBackend = real ? null : `rafikid (${env.RAFIKID}) has no \`up\` role: admin is not built`;
  if (real) diag(`backend: a real \`rafikid up\` (${env.RAFIKID}); data dir ${tmp}`);
  else diag(`backend: none. ${noBackend}; every step is skipped`);
  diag(`screenshots: ${SCREENSHOTS}`);
  const noTraining = training ? null : 'training has not landed: rafikid has no advisor/trainer role';
  const noServing = serving ? null : 'serving has not landed: rafikid has no predictor/inference role';

  // What the test uploads: iris as the converter writes it, and the zoo's
  // XGBoost classifier.
  const dataDir = path.join(tmp, 'data');
  const filesDir = path.join(tmp, 'files');
  fs.mkdirSync(dataDir);
  const convert = spawnSync(env.CONVERT, ['iris', filesDir, '--limit', '100'], { encoding: 'utf8' });
  const irisTrain = path.join(filesDir, 'iris-train.csv');
  const irisVal = path.join(filesDir, 'iris-val.csv');

  const { chromium } = createRequire(path.join(env.WEB_STAGE, 'package.json'))('playwright-core');
  let backend = null;
  let context = null;
  let page = null;
  const pageErrors = [];
  // The page's server-sent events as chromium received them (DevTools
  // protocol): { name, data } in order.
  const sse = [];
  const sseOf = (name, predicate = () => true) => sse.filter((e) => e.name === name && predicate(e.data));

  try {
    await step('starts the backend and chromium', { skip: noBackend }, async () => {
      check(convert.status === 0, `deploy/datasets/convert iris failed: ${convert.stderr}`);
      check(fs.existsSync(env.XGB_SO || ''), `the zoo template is missing: ${env.XGB_SO}`);
      check(fs.existsSync(path.join(env.WEB_DIR, 'index.html')), `the web admin is not built: ${env.WEB_DIR}`);
      backend = await startReal(dataDir);
      context = await chromium.launchPersistentContext(path.join(tmp, 'chromium-profile'), {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--disable-quic',
        ],
        viewport: { width: 1280, height: 800 },
      });
      context.setDefaultTimeout(STEP_TIMEOUT_MS);
      page = context.pages()[0] || (await context.newPage());
      page.on('pageerror', (error) => pageErrors.push(error.message));
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      cdp.on('Network.eventSourceMessageReceived', ({ eventName, data }) => {
        let parsed = null;
        try {
          parsed = JSON.parse(data);
        } catch {
          parsed = { unparsed: data };
        }
        sse.push({ name: eventName, data: parsed });
      });
    });

    const S = 'starts the backend and chromium';
    const SERVE = 'serves the web admin at / with no configuration';
    await step(SERVE, { after: [S] }, async () => {
      const response = await page.goto(backend.url + '/');
      check(response.status() === 200, `GET / answered ${response.status()}`);
      const built = fs.readFileSync(path.join(env.WEB_DIR, 'index.html'), 'utf8');
      check((await response.text()) === built, `GET / is not the build's ${env.WEB_DIR}/index.html`);
    });

    await step('shows the login page and refuses a wrong password in words', { after: [SERVE] }, async () => {
      await page.getByRole('heading', { name: 'Log in to Rafiki' }).waitFor();
      await checkLabels(page, 'login');
      await page.getByLabel('E-mail').fill(EMAIL);
      await page.getByLabel('Password').fill('not-the-password');
      await page.getByRole('button', { name: 'Log in' }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      const text = (await alert.textContent()).trim();
      check(/^Could not log in: \S/.test(text) && !/object|undefined/.test(text), `the refusal is not in words: "${text}"`);
      diag(`login refused: "${text}"`);
      await screenshot(page, 'login-refused');
    });

    const LOGIN = 'logs in with the keyboard';
    await step(LOGIN, { after: [SERVE] }, async () => {
      const password = page.getByLabel('Password');
      await password.fill('');
      await page.getByLabel('E-mail').focus();
      await page.keyboard.press('Tab');
      check(await password.evaluate((el) => el === document.activeElement), 'Tab from E-mail does not reach Password');
      await page.keyboard.type(PASSWORD);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Train jobs', level: 1 }).waitFor();
      await page.getByRole('navigation', { name: 'Main' }).waitFor();
      await waitText(page.locator('.who'), new RegExp(EMAIL.replace('.', '\\.')));
    });

    await step('connects to live updates (GET /events)', { after: [LOGIN] }, async () => {
      await page.locator('[data-live="live"]').waitFor({ timeout: 15_000 }).catch(() => {
        throw new Error('the live indicator never said "Live": GET /events did not open an event stream');
      });
      await screenshot(page, 'train-jobs-empty');
    });

    const DATASETS = 'uploads the iris datasets with a progress bar';
    await step(DATASETS, { after: [LOGIN] }, async () => {
      await navLink(page, 'Datasets').click();
      await page.getByRole('heading', { name: 'Datasets', level: 1 }).waitFor();
      await checkLabels(page, 'datasets');
      // Watch for the progress bar, which may be on screen only briefly.
      await page.evaluate(() => {
        window.__sawProgress = false;
        new MutationObserver(() => {
          if (document.getElementById('dataset-progress')) window.__sawProgress = true;
        }).observe(document.body, { childList: true, subtree: true });
      });
      for (const [name, file] of [['iris-train', irisTrain], ['iris-val', irisVal]]) {
        await page.getByLabel('Name').fill(name);
        await page.getByLabel('Task').selectOption('TABULAR_CLASSIFICATION');
        await page.getByLabel('File', { exact: true }).setInputFiles(file);
        await page.getByRole('button', { name: 'Upload', exact: true }).click();
        await waitText(page.getByRole('status'), new RegExp(`Uploaded dataset ${name}`));
        await page.locator('#datasets-table tbody tr', { hasText: name }).waitFor();
      }
      check(await page.evaluate(() => window.__sawProgress), 'no progress bar was shown during the upload');
      const rows = await page.locator('#datasets-table tbody tr').count();
      check(rows === 2, `the datasets table has ${rows} rows, not 2`);
      const size = await page.locator('#datasets-table tbody tr', { hasText: 'iris-train' }).locator('td.num').textContent();
      check(/\d/.test(size), `the dataset's size is not shown: "${size}"`);
      await screenshot(page, 'datasets');
    });

    const MODEL = 'uploads the XGBoost model template';
    await step(MODEL, { after: [LOGIN] }, async () => {
      await navLink(page, 'Models').click();
      await page.getByRole('heading', { name: 'Upload a model template' }).waitFor();
      await checkLabels(page, 'models');
      await page.getByLabel('Name').fill('XgbClassifier');
      await page.getByLabel('Task').selectOption('TABULAR_CLASSIFICATION');
      await page.getByLabel('Model class').fill('XgbClassifier');
      await page.getByLabel('Template file (.so)').setInputFiles(env.XGB_SO);
      await page.getByRole('button', { name: 'Upload', exact: true }).click();
      await waitText(page.getByRole('status'), /Uploaded model XgbClassifier/);
      await page.locator('#models-table tbody tr', { hasText: 'XgbClassifier' }).waitFor();
      // A file that is not a template is refused, in words.
      const bogus = path.join(tmp, 'not-a-template.so');
      fs.writeFileSync(bogus, 'this is text, not a shared object\n');
      await page.getByLabel('Name').fill('Bogus');
      await page.getByLabel('Template file (.so)').setInputFiles(bogus);
      await page.getByRole('button', { name: 'Upload', exact: true }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      const text = (await alert.textContent()).trim();
      check(/^Upload failed: \S/.test(text), `the refusal is not in words: "${text}"`);
      diag(`bogus template refused: "${text}"`);
      await screenshot(page, 'models');
    });

    const TRAIN = 'starts a small train job from the form';
    await step(TRAIN, { skip: noTraining, after: [DATASETS, MODEL] }, async () => {
      await navLink(page, 'Train jobs').click();
      await page.getByRole('link', { name: 'New train job' }).click();
      await page.getByRole('heading', { name: 'New train job' }).waitFor();
      await page.getByLabel('App name').fill('iris');
      await page.getByLabel('Task').selectOption('TABULAR_CLASSIFICATION');
      await page.getByRole('checkbox', { name: /XgbClassifier/ }).check();
      await selectByText(page.getByLabel('Training dataset'), 'iris-train');
      await selectByText(page.getByLabel('Validation dataset'), 'iris-val');
      await page.getByLabel('Trials per model (MODEL_TRIAL_COUNT)').fill('3');
      await page.getByLabel('Time (TIME_HOURS)').fill('0.1');
      await page.getByLabel('Train arguments (JSON, optional)').fill('{"target": "target"}');
      await checkLabels(page, 'new train job');
      await screenshot(page, 'new-train-job');
      await page.getByRole('button', { name: 'Create train job' }).click();
      await page.getByRole('heading', { name: /Train job iris v1/ }).waitFor();
      await waitText(page.locator('#job-status'), /STARTED|RUNNING|STOPPED/);
    });

    const LIVE = 'watches the trials appear live';
    await step(LIVE, { skip: noTraining, after: [TRAIN] }, async () => {
      // The page is not reloaded: rows arrive through /events.
      await page.evaluate(() => (window.__notReloaded = true));
      await page.locator('#trials-table tbody tr').first().waitFor({ timeout: TRAIN_TIMEOUT_MS });
      await page.locator('#trials-table tbody tr', { hasText: 'COMPLETED' }).first().waitFor({ timeout: TRAIN_TIMEOUT_MS });
      await screenshot(page, 'train-job-running');
      // The rows came with the events admin pushed on GET /events.
      const jobId = await page.evaluate(async () => {
        const { token } = JSON.parse(sessionStorage.getItem('rafiki.session'));
        const response = await fetch('/train_jobs/iris/1', { headers: { Authorization: 'Bearer ' + token } });
        return (await response.json()).id;
      });
      await waitText(page.locator('#job-status'), /STOPPED/, TRAIN_TIMEOUT_MS);
      await page.waitForFunction(
        () => document.querySelectorAll('#trials-table tbody tr').length >= 3 &&
          ![...document.querySelectorAll('#trials-table tbody tr')].some((r) => /PENDING|RUNNING/.test(r.textContent)),
        null,
        { timeout: TRAIN_TIMEOUT_MS },
      );
      check(await page.evaluate(() => window.__notReloaded === true), 'the page was reloaded');
      // A trial ends COMPLETED, or PRUNED when the advisor's early stopping cut it (the
      // zoo's XGBoost reports progress per round); at least one completes.
      const ended = sseOf('TrialUpdate', (d) => d.job === jobId && /^(COMPLETED|PRUNED)$/.test(d.status));
      const trials = new Set(ended.map((e) => e.data.trial_id));
      check(trials.size === 3, `the page got COMPLETED or PRUNED TrialUpdate events for ${trials.size} trials, not 3`);
      check(ended.some((e) => e.data.status === 'COMPLETED'), 'the page got no COMPLETED TrialUpdate event');
      check(sseOf('JobStatus', (d) => d.id === jobId && d.status === 'STOPPED').length >= 1,
        'the page got no JobStatus STOPPED event for the job');
      diag(`events received by the page: ${['JobStatus', 'ServiceStatus', 'TrialUpdate', 'LogLine']
        .map((name) => `${sseOf(name).length} ${name}`).join(', ')}`);
      const rows = await page.locator('#trials-table tbody tr').count();
      check(rows === 3, `${rows} trials are listed for a budget of 3`);
      const sub = await page.locator('#sub-jobs-table tbody tr').first().textContent();
      check(/XgbClassifier/.test(sub) && /3/.test(sub), `the sub job row does not show the model and its 3 trials: "${sub}"`);
      const chart = page.locator('#score-chart');
      await page.waitForFunction(() => Number(document.getElementById('score-chart').dataset.points) >= 1);
      check((await drawnPixels(chart)) > 500, 'the score-by-trial plot is blank');
      await screenshot(page, 'train-job-done');
    });

    const SORT = 'sorts the trials table by score';
    await step(SORT, { skip: noTraining, after: [LIVE] }, async () => {
      const header = page.locator('#trials-table th', { hasText: 'Score' });
      await header.getByRole('button').press('Enter');
      check((await header.getAttribute('aria-sort')) === 'ascending', 'aria-sort is not ascending after one press');
      await header.getByRole('button').click();
      check((await header.getAttribute('aria-sort')) === 'descending', 'aria-sort is not descending after two');
      const scores = await page.locator('#trials-table tbody tr td.num:nth-of-type(3)').allTextContents();
      const numbers = scores.map(Number).filter((n) => Number.isFinite(n));
      check(numbers.length >= 1, `no scores in the table: ${scores.join(',')}`);
      check(numbers.every((n, i) => i === 0 || numbers[i - 1] >= n), `scores are not in descending order: ${numbers.join(', ')}`);
    });

    const TRIAL = 'opens a trial and sees its plot drawn';
    await step(TRIAL, { skip: noTraining, after: [LIVE] }, async () => {
      await page.locator('#trials-table tbody tr', { hasText: 'COMPLETED' }).first().locator('a').click();
      await page.getByRole('heading', { name: /^Trial \d+/ }).waitFor();
      await waitText(page.locator('#trial-status'), /COMPLETED/);
      const score = (await page.locator('#trial-score').textContent()).trim();
      check(/^-?\d/.test(score), `the trial's score is not shown: "${score}"`);
      const plot = page.locator('.plots canvas').first();
      await plot.waitFor();
      await page.waitForFunction(() => {
        const canvas = document.querySelector('.plots canvas');
        return canvas && canvas.dataset.drawn === 'true' && Number(canvas.dataset.points) > 0;
      });
      check((await drawnPixels(plot)) > 500, 'the metric plot is blank');
      const label = await plot.getAttribute('aria-label');
      check(/points/.test(label), `the plot has no text summary: "${label}"`);
      diag(`plot: ${label}`);
      await page.locator('#trial-log li').first().waitFor();
      await screenshot(page, 'trial');
    });

    const DEPLOY = 'deploys an inference job';
    await step(DEPLOY, { skip: noTraining || noServing, after: [LIVE] }, async () => {
      await navLink(page, 'Inference jobs').click();
      await page.getByRole('heading', { name: 'Deploy a train job' }).waitFor();
      await checkLabels(page, 'inference jobs');
      await page.getByLabel('App', { exact: true }).selectOption('iris');
      await page.getByRole('button', { name: 'Deploy' }).click();
      await page.getByRole('heading', { name: /Inference job iris v1/ }).waitFor();
      await waitText(page.locator('#inference-status'), /RUNNING/, TRAIN_TIMEOUT_MS);
      check(sseOf('JobStatus', (d) => d.kind === 'INFERENCE' && d.status === 'RUNNING').length >= 1,
        'the page got no JobStatus event of the inference job RUNNING');
      const host = (await page.locator('#predictor-host').textContent()).trim();
      check(/:\d+$/.test(host), `no predictor host is shown: "${host}"`);
    });

    const PREDICT = 'gets a prediction from the query box';
    await step(PREDICT, { skip: noTraining || noServing, after: [DEPLOY] }, async () => {
      // The first validation row as a query: {feature: value}, without the target.
      const [head, first] = fs.readFileSync(irisVal, 'utf8').trim().split('\n');
      const names = head.split(',');
      const values = first.split(',');
      const query = {};
      names.forEach((name, i) => {
        if (name !== 'target') query[name] = Number(values[i]);
      });
      await page.getByLabel('Query (JSON)').fill(JSON.stringify(query));
      await page.getByRole('button', { name: 'Predict' }).click();
      await waitText(page.locator('#prediction'), /Most likely class: \d/);
      const words = (await page.locator('.prediction-words').first().textContent()).trim();
      diag(`prediction: ${words}`);
      await checkLabels(page, 'inference job');
      await screenshot(page, 'inference-job');
      // A query that is not JSON is refused in words before it is sent.
      await page.getByLabel('Query (JSON)').fill('{not json');
      await page.getByRole('button', { name: 'Predict' }).click();
      await waitText(page.getByRole('alert'), /not valid JSON/);
    });

    await step('lays the pages out at phone width', { after: [LOGIN] }, async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      for (const [hash, name] of [
        ['#/jobs', 'phone-train-jobs'],
        ['#/datasets', 'phone-datasets'],
        ['#/inference', 'phone-inference'],
      ]) {
        await page.evaluate((h) => (location.hash = h), hash);
        await page.locator('main h1').waitFor();
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        check(overflow <= 1, `${hash} is ${overflow}px wider than the phone's screen`);
        check(await page.getByRole('navigation', { name: 'Main' }).isVisible(), `${hash}: the navigation is hidden`);
        await screenshot(page, name);
      }
      await page.setViewportSize({ width: 1280, height: 800 });
    });

    await step('sends an expired session back to the login page', { after: [LOGIN] }, async () => {
      await page.evaluate(() => {
        const session = JSON.parse(sessionStorage.getItem('rafiki.session'));
        session.token = 'expired.' + session.token.split('.').reverse().join('.');
        sessionStorage.setItem('rafiki.session', JSON.stringify(session));
        location.hash = '#/datasets';
        location.reload();
      });
      await page.getByRole('heading', { name: 'Log in to Rafiki' }).waitFor();
      await waitText(page.getByRole('status'), /\S/);
      const notice = (await page.locator('.notice').textContent()).trim();
      check(notice.length > 10, `no reason is given for the return to the login page: "${notice}"`);
      diag(`expired session: "${notice}"`);
      await screenshot(page, 'session-expired');
      // Logging in again returns to the page the user was on.
      await page.getByLabel('E-mail').fill(EMAIL);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'Datasets', level: 1 }).waitFor();
    });

    await step('raises no script errors in the page', { after: [S] }, async () => {
      check(pageErrors.length === 0, `errors in the page: ${pageErrors.join('; ')}`);
    });
  } finally {
    if (context) await context.close().catch(() => {});
    if (backend) await backend.close().catch((error) => diag('closing the backend: ' + error.message));
    if (backend && failures > 0) {
      const log = path.join(dataDir, 'rafikid-up.stderr');
      if (fs.existsSync(log)) diag('rafikid up said:\n' + fs.readFileSync(log, 'utf8').slice(-4000));
    }
    if (failures === 0) fs.rmSync(tmp, { recursive: true, force: true });
    else diag(`kept ${tmp} for a look`);
  }
  console.log(`1..${count}`);
  process.exitCode = failures > 0 ? 1 : 0;
}

main().catch((error) => {
  diag(error.stack || String(error));
  console.log('Bail out! ' + error.message);
  process.exitCode = 1;
});
