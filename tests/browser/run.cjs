// Opens each page URL given in headless Chromium (Debian's /usr/bin/chromium, driven by npm's
// playwright-core from $PLAYWRIGHT_CORE) and waits for its script to log a line or fail; prints
// {"<url>": {"logged": <the line, parsed as JSON>} or {"error": "<the page's error>"}} as JSON.
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

function outcome(page) {
  return new Promise((resolve) => {
    page.on("console", (message) => {
      if (message.type() === "log") resolve({ logged: JSON.parse(message.text()) });
    });
    page.on("pageerror", (error) => resolve({ error: String(error) }));
    page.on("crash", () => resolve({ error: "the page crashed" }));
    // unref: a timer left over from a page that answered must not keep node alive.
    setTimeout(() => resolve({ error: "no outcome within 300 s" }), 300000).unref();
  });
}

(async () => {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    // --disable-dev-shm-usage: a container's small /dev/shm otherwise crashes Chromium under load.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const results = {};
  try {
    for (const url of process.argv.slice(2)) {
      const page = await browser.newPage();
      const done = Promise.race([
        outcome(page),
        new Promise((resolve) => browser.on("disconnected", () => resolve({ error: "the browser exited" }))),
      ]);
      await page.goto(url);
      results[url] = await done;
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
