"""An AUTOMATIC1111 API client written the way Python users of the webui API write them (urllib, base64, json,
a thread polling /progress while a call runs). It drives a farm and prints one JSON line per call:
{"call": name, "method", "path", "status", "body"} so the Node test can check every answer against A1111's models.
Exits non-zero when an answer is not what an A1111 client relies on."""
import base64
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

BASE = os.environ["A1111_URL"].rstrip("/")
AUTH = "Basic " + base64.b64encode(os.environ["A1111_AUTH"].encode()).decode()


def call(name, method, path, payload=None, log=True):
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method, headers={"Authorization": AUTH, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as res:
            status, raw = res.status, res.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    body = json.loads(raw) if raw else None
    if log:
        print(json.dumps({"call": name, "method": method, "path": path, "status": status, "body": body}), flush=True)
    return status, body


def check(cond, what):
    if not cond:
        print(json.dumps({"failed": what}), flush=True)
        sys.exit(1)


small = {"prompt": "a red boat on a lake", "negative_prompt": "fog", "width": 64, "height": 64, "steps": 4, "seed": 11, "sampler_name": "Euler a"}

# start-up calls clients make
for route in ["samplers", "schedulers", "upscalers", "latent-upscale-modes", "sd-models", "sd-vae", "hypernetworks", "face-restorers",
              "realesrgan-models", "prompt-styles", "embeddings", "memory", "scripts", "script-info", "extensions", "loras", "cmd-flags"]:
    status, _ = call(route, "GET", "/sdapi/v1/" + route)
    check(status == 200, route)
for route in ["refresh-checkpoints", "refresh-vae", "refresh-embeddings", "refresh-loras"]:
    call(route, "POST", "/sdapi/v1/" + route, {})
for route in ["version", "settings", "model_list", "module_list", "control_types"]:
    call("controlnet " + route, "GET", "/controlnet/" + route)

# options: read, switch the model by title, read back
status, options = call("options", "GET", "/sdapi/v1/options")
check(status == 200 and options["samples_format"] == "png" and options["CLIP_stop_at_last_layers"] == 1, "default options")
_, models = call("sd-models again", "GET", "/sdapi/v1/sd-models", log=False)
alt = [m for m in models if m["model_name"] == "tiny-alt"][0]
status, _ = call("set options", "POST", "/sdapi/v1/options", {"sd_model_checkpoint": alt["title"], "jpeg_quality": 90})
check(status == 200, "set options")
_, options = call("options after", "GET", "/sdapi/v1/options", log=False)
check(options["sd_model_checkpoint"] == alt["title"] and options["jpeg_quality"] == 90, "options read back")
call("reset options", "POST", "/sdapi/v1/options", {"sd_model_checkpoint": "tiny"}, log=False)

# txt2img with A1111's own default body shape: denoising_strength 0 and explicit nulls
body = dict(small, batch_size=2, denoising_strength=0, restore_faces=None, tiling=None, eta=None, styles=None, script_name=None, sampler_index="Euler")
status, t2i = call("txt2img", "POST", "/sdapi/v1/txt2img", body)
check(status == 200 and len(t2i["images"]) == 2, "txt2img")
info = json.loads(t2i["info"])
check(info["all_seeds"] == [11, 12] and info["sd_model_name"] == "tiny" and info["sd_model_hash"], "txt2img info")
status, png_info = call("png-info", "POST", "/sdapi/v1/png-info", {"image": "data:image/png;base64," + t2i["images"][1]})
check(png_info["info"] == info["infotexts"][1] and png_info["parameters"]["Seed"] == "12" and png_info["parameters"]["Size-1"] == "64", "png-info")

# a style from styles.csv wraps the prompt ({prompt}) and is appended to the negative prompt
_, styles = call("prompt-styles again", "GET", "/sdapi/v1/prompt-styles", log=False)
check([x["name"] for x in styles] == ["watercolor"], "styles listed")
status, styled = call("txt2img styled", "POST", "/sdapi/v1/txt2img", dict(small, styles=["watercolor"]))
styled_info = json.loads(styled["info"])
check(styled_info["prompt"] == "watercolor painting of a red boat on a lake, soft" and styled_info["negative_prompt"] == "fog, photo, harsh" and styled_info["styles"] == ["watercolor"], "styles applied")

# JPEG results carry the infotext as EXIF, and png-info reads it back
status, jpg = call("txt2img jpg", "POST", "/sdapi/v1/txt2img", dict(small, override_settings={"samples_format": "jpg"}))
check(status == 200 and base64.b64decode(jpg["images"][0])[:2] == b"\xff\xd8", "jpeg result")
status, jpg_info = call("png-info jpg", "POST", "/sdapi/v1/png-info", {"image": jpg["images"][0]})
check(jpg_info["info"] == json.loads(jpg["info"])["infotexts"][0], "png-info of a JPEG")

# img2img from the first result
status, i2i = call("img2img", "POST", "/sdapi/v1/img2img", dict(small, init_images=[t2i["images"][0]], denoising_strength=0.5, include_init_images=True))
check(status == 200 and i2i["parameters"]["init_images"] == [t2i["images"][0]], "img2img")

# a ControlNet unit the way the extension's clients send it
unit = {"enabled": True, "input_image": t2i["images"][0], "module": "canny", "model": "default", "weight": 1.0, "processor_res": 64, "threshold_a": 100, "threshold_b": 200}
status, cn = call("txt2img controlnet", "POST", "/sdapi/v1/txt2img", dict(small, override_settings={"sd_model_checkpoint": "tiny-cn"}, alwayson_scripts={"controlnet": {"args": [unit]}}))
check(status == 200 and len(cn["images"]) == 1, "controlnet txt2img")

# progress while a long call runs in another thread, then interrupt it
result = {}
long_body = dict(small, width=128, height=128, steps=150)
worker = threading.Thread(target=lambda: result.update(zip(("status", "body"), call("txt2img interrupted", "POST", "/sdapi/v1/txt2img", long_body))))
worker.start()
progress = None
for _ in range(600):
    _, p = call("progress poll", "GET", "/sdapi/v1/progress", log=False)
    if p["state"]["sampling_step"] > 0:
        progress = p
        break
    time.sleep(0.05)
check(progress is not None, "progress while running")
print(json.dumps({"call": "progress", "method": "GET", "path": "/sdapi/v1/progress", "status": 200, "body": progress}), flush=True)
call("interrupt", "POST", "/sdapi/v1/interrupt", {})
worker.join()
check(result["status"] == 200 and len(result["body"]["images"]) == 1, "the interrupted call answers with the current image")

# skip with nothing running is harmless, as in A1111
call("skip", "POST", "/sdapi/v1/skip", {})
call("unload-checkpoint", "POST", "/sdapi/v1/unload-checkpoint", {})
call("reload-checkpoint", "POST", "/sdapi/v1/reload-checkpoint", {})
status, after = call("txt2img after reload", "POST", "/sdapi/v1/txt2img", small)
check(status == 200 and len(after["images"]) == 1, "generation after unload/reload")
print(json.dumps({"done": True}), flush=True)
