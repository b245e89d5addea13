// Puppeteer for the CATAPULT runner: the machine's Chromium (nothing downloaded), headless.
module.exports = {
    launch: {
        headless: true,
        executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
        args: ["--no-sandbox", "--disable-dev-shm-usage"],
    },
};
