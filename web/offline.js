// The offline page: it asks for the app again every few seconds and reloads once the
// server answers.
const retryEvery = 3000;

async function retry() {
  try {
    const resp = await fetch('manifest.webmanifest?probe=' + Date.now(), { cache: 'no-store' });
    if (resp.ok) { location.replace('./'); return; }
  } catch { /* still down */ }
  setTimeout(retry, retryEvery);
}
setTimeout(retry, retryEvery);
