"""``nk serve``: a local web page to try a trained model (FastAPI + uvicorn, the ``serve`` extra).

- ``GET /``: the page: upload a file or record from the browser's microphone (recorded as
  16-bit PCM WAV in the page, no codec needed on the server), see the prediction, the class
  probabilities as bars, and the model card.
- ``POST /predict``: multipart field ``file`` → ``{"label", "probabilities", "segments"}`` (a
  regression model also gives ``value``); not audio → HTTP 400 ``{"error": ...}``; too large →
  HTTP 413.
- ``GET /card``: the model card as JSON (target, classes, training data, test score with CI,
  Markdown).

Uploads are read in chunks up to ``max_mb`` and written only into a fresh temporary folder that
is removed after the answer; the file name the browser sends is never used as a path.
"""

# no `from __future__ import annotations`: FastAPI reads the endpoints' annotations as objects

import html
import json
import tempfile
from pathlib import Path
from typing import Any

from nk.errors import UserError

CHUNK = 1 << 16


def check_available() -> None:
    """FastAPI, uvicorn and python-multipart are installed, else a UserError saying how."""
    missing = []
    for module, dist in (("fastapi", "fastapi"), ("uvicorn", "uvicorn"), ("multipart", "python-multipart")):
        try:
            __import__(module)
        except ImportError:
            missing.append(dist)
    if missing:
        raise UserError(f"nk serve needs {', '.join(missing)}, which is not installed",
                        todo="pip install 'nk[serve]' (or pip install fastapi uvicorn python-multipart)")


def create_app(predictor: Any, card: dict[str, Any], *, max_mb: float = 20.0) -> Any:
    """The FastAPI application serving ``predictor`` (a :class:`nk.inference.Predictor`)."""
    import asyncio

    from fastapi import FastAPI, File, UploadFile
    from fastapi.responses import HTMLResponse, JSONResponse

    from nk.apply import predict_one

    app = FastAPI(title=f"nk: {card['target']}", docs_url=None, redoc_url=None)
    limit = int(max_mb * 1024 * 1024)
    lock = asyncio.Lock()  # one prediction at a time: the model and the feature cache are shared
    page = render_page(card, max_mb)

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return page

    @app.get("/card")
    async def model_card() -> dict[str, Any]:
        return card

    @app.post("/predict")
    async def predict(file: UploadFile = File(...)) -> Any:
        import soundfile

        suffix = Path(file.filename or "upload").suffix.lower()
        suffix = suffix if suffix.isascii() and suffix[1:].isalnum() and len(suffix) <= 6 else ""
        with tempfile.TemporaryDirectory(prefix="nk-serve-") as tmp:
            path = Path(tmp) / f"upload{suffix}"
            size = 0
            with open(path, "wb") as fh:
                while block := await file.read(CHUNK):
                    size += len(block)
                    if size > limit:
                        return JSONResponse({"error": f"The file is larger than {max_mb:g} MB"}, status_code=413)
                    fh.write(block)
            if size == 0:
                return JSONResponse({"error": "The upload is empty"}, status_code=400)
            try:
                info = soundfile.info(str(path))
                if info.frames == 0:
                    raise ValueError("no samples")
            except Exception:
                return JSONResponse({"error": f"{file.filename or 'The upload'} is not an audio file nk can read "
                                              "(WAV, FLAC, OGG, MP3)"}, status_code=400)
            async with lock:
                try:
                    answer = await asyncio.to_thread(predict_one, predictor, path)
                except UserError as exc:
                    return JSONResponse({"error": exc.message}, status_code=400)
        answer["file"] = file.filename
        return answer

    return app


def serve(run: str, host: str, port: int, max_mb: float, app: Any) -> int:
    """Load the model and serve it until Ctrl-C."""
    check_available()
    import uvicorn

    from nk.bundle import card_of, model_folder
    from nk.inference import load_run

    folder = model_folder(Path(run))
    predictor = load_run(folder, app.pm, console=app.console)
    web = create_app(predictor, card_of(folder), max_mb=max_mb)
    if host not in ("127.0.0.1", "localhost", "::1"):
        app.console.print(f"Warning: serving on {host}: anyone who can reach this machine can use the model.",
                          style="yellow", highlight=False)
    app.console.print(f"[bold]nk serve[/] {folder} on http://{host}:{port}/ (Ctrl-C stops)", highlight=False)
    uvicorn.run(web, host=host, port=port, log_level="warning")
    return 0


def render_page(card: dict[str, Any], max_mb: float) -> str:
    """The single HTML page (no external resources)."""
    test = card.get("test") or {}
    primary = str(card.get("primary") or "").upper()
    score = ""
    if test:
        score = f"{primary} {test['value']:.3f}"
        if "ci" in test:
            score += f" ({round(test['ci_level'] * 100)} % CI {test['ci'][0]:.3f}–{test['ci'][1]:.3f})"
    labels = ", ".join(map(str, card.get("labels") or [])) or "a number (regression)"
    facts = (f"<p>Predicts <b>{html.escape(str(card['target']))}</b>: {html.escape(labels)}. Trained on "
             f"{html.escape(', '.join(card.get('trained_on') or ['?']))}. Test score: {html.escape(score or '?')}.</p>")
    return PAGE.replace("__TITLE__", html.escape(f"nk: {card['target']}")).replace("__FACTS__", facts) \
        .replace("__CARD__", html.escape(card.get("markdown") or "")).replace("__MAXMB__", f"{max_mb:g}") \
        .replace("__MAXBYTES__", str(int(max_mb * 1024 * 1024))).replace("__CARDJSON__", json.dumps(card.get("labels")))


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.5rem}.box{border:1px solid #ccc;border-radius:8px;padding:1rem;margin:1rem 0}
button{font-size:1rem;padding:.4rem .9rem;margin-right:.5rem}#label{font-size:1.6rem;font-weight:bold}
.bar{display:flex;align-items:center;margin:.2rem 0}.bar span{width:9rem}.bar div{background:#3b7dd8;height:1rem}
.err{color:#b00020}pre{white-space:pre-wrap;background:#f6f6f6;padding:.8rem;border-radius:6px}
</style></head><body>
<h1>__TITLE__</h1>__FACTS__
<div class="box">
<form id="form"><input type="file" id="file" name="file" accept="audio/*">
<button type="submit" id="send">Predict</button></form>
<p><button id="rec" type="button">Record</button><button id="stop" type="button" disabled>Stop</button>
<small>records from your microphone in the browser, then predicts</small></p>
<small>Files up to __MAXMB__ MB: WAV, FLAC, OGG, MP3.</small>
</div>
<div class="box" id="result" aria-live="polite"><div id="status">Upload a file or record.</div>
<div id="label"></div><div id="bars"></div></div>
<h2>Model card</h2><pre id="card">__CARD__</pre>
<script>
const labels = __CARDJSON__;
const status = document.getElementById('status'), labelEl = document.getElementById('label'),
      bars = document.getElementById('bars');
async function send(blob, name) {
  if (blob.size > __MAXBYTES__) { status.className='err'; status.textContent='The file is larger than __MAXMB__ MB'; return; }
  status.className=''; status.textContent = 'Predicting ' + name + ' …'; labelEl.textContent=''; bars.innerHTML='';
  const data = new FormData(); data.append('file', blob, name);
  const r = await fetch('predict', {method: 'POST', body: data});
  const answer = await r.json();
  if (!r.ok) { status.className='err'; status.textContent = answer.error || r.statusText; return; }
  status.textContent = name + (answer.segments > 1 ? ' (' + answer.segments + ' segments)' : '');
  labelEl.textContent = answer.label;
  for (const [k, v] of Object.entries(answer.probabilities).sort((a, b) => b[1] - a[1])) {
    const row = document.createElement('div'); row.className = 'bar';
    const name = document.createElement('span'); name.textContent = k + ' ' + v.toFixed(2);
    const bar = document.createElement('div'); bar.style.width = (v * 20) + 'rem';
    row.append(name, bar); bars.append(row);
  }
}
document.getElementById('form').addEventListener('submit', e => {
  e.preventDefault(); const f = document.getElementById('file').files[0];
  if (f) send(f, f.name); else { status.className='err'; status.textContent='Choose a file first.'; }
});
let ctx, source, proc, chunks = [], stream;
document.getElementById('rec').onclick = async () => {
  try { stream = await navigator.mediaDevices.getUserMedia({audio: true}); }
  catch (e) { status.className='err'; status.textContent = 'No microphone: ' + e.message; return; }
  ctx = new AudioContext(); source = ctx.createMediaStreamSource(stream);
  proc = ctx.createScriptProcessor(4096, 1, 1); chunks = [];
  proc.onaudioprocess = e => chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
  source.connect(proc); proc.connect(ctx.destination);
  document.getElementById('stop').disabled = false; status.className=''; status.textContent = 'Recording …';
};
document.getElementById('stop').onclick = () => {
  proc.disconnect(); source.disconnect(); stream.getTracks().forEach(t => t.stop());
  document.getElementById('stop').disabled = true;
  const n = chunks.reduce((a, c) => a + c.length, 0), rate = ctx.sampleRate;
  const buf = new ArrayBuffer(44 + 2 * n), v = new DataView(buf);
  const w = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
  w(0, 'RIFF'); v.setUint32(4, 36 + 2 * n, true); w(8, 'WAVEfmt '); v.setUint32(16, 16, true);
  v.setUint16(20, 1, true); v.setUint16(22, 1, true); v.setUint32(24, rate, true);
  v.setUint32(28, 2 * rate, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true);
  w(36, 'data'); v.setUint32(40, 2 * n, true);
  let o = 44; for (const c of chunks) for (const x of c) { v.setInt16(o, Math.max(-1, Math.min(1, x)) * 32767, true); o += 2; }
  ctx.close(); send(new Blob([buf], {type: 'audio/wav'}), 'recording.wav');
};
</script></body></html>
"""

__all__ = ["check_available", "create_app", "render_page", "serve"]
