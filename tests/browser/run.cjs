// Runs tests/browser/flow.html's flow in headless Chromium (Debian's /usr/bin/chromium, driven
// by npm's playwright-core from $PLAYWRIGHT_CORE), once from each page URL given, and prints
// {"<url>": <the flow's result, or {"error": ...}>} as JSON.
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

(async () => {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const results = {};
  try {
    for (const url of process.argv.slice(2)) {
      const page = await browser.newPage();
      await page.goto(url);
      results[url] = await page.evaluate(() =>
        flow().catch((error) => ({ error: String(error) })));
      await page.close();
    }
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(results));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
