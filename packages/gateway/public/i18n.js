// The page's words in English and Simplified Chinese (A1111's own zh_CN terms where it has one). Elements name their
// text with data-i18n (text), data-i18n-title, data-i18n-placeholder and data-i18n-label (aria-label); messages made
// in code use t(key, values).
const en = {
  title: 'sd-render-farm', language: 'Language', model: 'Model', refresh_models: 'Refresh the model list', model_hash: 'Model hash',
  tabs: 'Mode', tab_txt2img: 'txt2img', tab_img2img: 'img2img', tab_inpaint: 'Inpaint', tab_extras: 'Extras', tab_pnginfo: 'PNG Info',
  prompt: 'Prompt', negative_prompt: 'Negative prompt', prompt_placeholder: 'a lighthouse on a cliff, (sunset:1.2)  —  Ctrl+Enter generates',
  generate: 'Generate', interrupt: 'Interrupt', skip: 'Skip', skip_title: 'End the current batch and go on with the next (batch count > 1)',
  styles: 'Styles', apply_style: 'Apply style', save_style: 'Save as style', style_name: 'Name of the new style', no_styles: '(no styles)',
  style_saved: 'Style "{name}" saved.', style_name_needed: 'Type a name for the style first.',
  sampling: 'Sampling', sampler: 'Sampling method', scheduler: 'Schedule type', steps: 'Sampling steps', cfg_scale: 'CFG scale',
  tiling: 'Tiling (seamless texture)', subseed: 'Variation seed', subseed_strength: 'Variation strength',
  size_batch: 'Size and batch', width: 'Width', height: 'Height', batch_size: 'Batch size', n_iter: 'Batch count',
  seed_section: 'Seed', seed: 'Seed', seed_random: 'Random', seed_random_label: 'Random seed (-1)', seed_reuse: 'Reuse', seed_reuse_label: 'Reuse the seed of the selected image',
  hires: 'Hires. fix', enable_hr: 'Enable Hires. fix', hr_upscaler: 'Upscaler', hr_scale: 'Upscale by', hr_steps: 'Hires steps', hr_denoise: 'Hires denoising strength',
  hr_resize_x: 'Resize width to', hr_resize_y: 'Resize height to', hr_target: 'Result: {w}x{h}',
  lora: 'LoRA', lora_weight: 'Weight', lora_add: 'Add to prompt', lora_none: '(none installed)',
  controlnet: 'ControlNet', cn_enabled: 'Enable ControlNet', cn_image: 'Control image', cn_module: 'Preprocessor', cn_weight: 'Control weight',
  cn_start: 'Starting control step', cn_end: 'Ending control step', cn_low: 'Canny low threshold', cn_high: 'Canny high threshold',
  cn_preview: 'Preview map', cn_map: 'ControlNet map preview', cn_need_image: 'Choose a control image for ControlNet first.',
  user_settings: 'Settings (saved for your account)', clip_skip: 'Clip skip', vae: 'SD VAE', randn_source: 'Random number generator source',
  ensd: 'Eta noise seed delta (ENSD)', live_previews: 'Show live previews while sampling', preview_every: 'Live preview every N steps',
  settings_saved: 'Saved.', vae_unsupported: 'The page cannot apply the VAE "{vae}" yet (the native API has no VAE field); choose Automatic, or use /sdapi/v1 with sd_vae.',
  img2img_image: 'Image for img2img', init_preview: 'img2img image', denoising_strength: 'Denoising strength', resize_mode: 'Resize mode',
  resize_0: 'Just resize', resize_1: 'Crop and resize', resize_2: 'Resize and fill', need_init: 'Choose an image for img2img first.',
  inpaint_image: 'Image to inpaint', inpaint_canvas: 'Mask: draw over the parts to repaint', brush_size: 'Brush size', eraser: 'Eraser',
  invert_mask: 'Invert mask', clear_mask: 'Clear mask', mask_blur: 'Mask blur', mask_mode: 'Mask mode', mask_mode_0: 'Inpaint masked',
  mask_mode_1: 'Inpaint not masked', inpainting_fill: 'Masked content', fill_0: 'fill', fill_1: 'original', fill_2: 'latent noise', fill_3: 'latent nothing',
  inpaint_area: 'Inpaint area', area_whole: 'Whole picture', area_masked: 'Only masked', inpaint_padding: 'Only masked padding, pixels',
  need_inpaint_image: 'Choose an image to inpaint first.', need_mask: 'Draw a mask over the image first (the parts to repaint).',
  gallery: 'Output', progress: 'Generation progress', idle: 'Idle', queued: 'Queued', queued_pos: 'Queued: position {pos} in the queue',
  starting: 'Starting…', step: 'Step {step} of {steps}', eta: 'about {s} s left', done: 'Done in {s} s', canceled: 'Interrupted',
  canceling: 'Interrupting…', failed: 'Failed: {error}', live_preview: 'Live preview, step {step}', result_alt: 'Result {n} of {count}: {prompt}',
  zoom: 'Zoom', close: 'Close', download: 'Download', copy_seed: 'Copy seed', seed_copied: 'Seed {seed} copied.', send_img2img: 'Send to img2img',
  send_inpaint: 'Send to inpaint', send_txt2img: 'Send to txt2img', reuse_params: 'Reuse parameters', infotext: 'Generation parameters',
  image_n: 'Image {n}', history: 'History', your_queue: 'Your queue', queue_empty: 'Nothing queued or running.',
  history_empty: 'No jobs yet.', open: 'Open', cancel: 'Cancel', prev: 'Previous', next: 'Next', page_of: 'Page {page} of {pages}',
  status_queued: 'queued', status_running: 'running', status_succeeded: 'done', status_failed: 'failed', status_canceled: 'interrupted',
  empty_prompt: '(empty prompt)',
  banner_unreachable: 'The farm cannot be reached. Your jobs keep their place; this page reconnects by itself.',
  banner_not_ready: 'The farm is not ready: {reason}.', banner_no_worker: 'No worker is online: jobs wait in the queue until one starts.',
  banner_warning: 'Note: {warning}',
  err_unreachable: 'The server cannot be reached. Check your connection and try again.', err_login: 'Please log in again (your session was not accepted).',
  err_rate: 'Too many requests; try again in {s} seconds.', err_unavailable: 'The farm is unavailable right now: {detail}.',
  err_status: 'Error {status}: {detail}', err_file: 'That file could not be read.',
  extras_image: 'Source image', extras_upscaler: 'Upscaler', extras_scale: 'Resize by', extras_run: 'Upscale', extras_result: 'Upscaled image',
  pnginfo_image: 'PNG file', pnginfo_drop: 'Drop a PNG here or choose one', pnginfo_none: 'This image has no generation parameters.',
  pnginfo_params: 'Parameters', pnginfo_preview: 'Image being read',
  keyboard_hint: 'Ctrl+Enter: generate · Esc: close zoom',
};

const zh = {
  title: 'sd-render-farm', language: '语言', model: 'Stable Diffusion 模型', refresh_models: '刷新模型列表', model_hash: '模型哈希值',
  tabs: '模式', tab_txt2img: '文生图', tab_img2img: '图生图', tab_inpaint: '局部重绘', tab_extras: '后期处理', tab_pnginfo: 'PNG 图片信息',
  prompt: '提示词', negative_prompt: '反向提示词', prompt_placeholder: '悬崖上的灯塔, (日落:1.2)  —  Ctrl+Enter 生成',
  generate: '生成', interrupt: '中止', skip: '跳过', skip_title: '结束当前批次并继续下一批（总批次数 > 1 时）',
  styles: '预设样式', apply_style: '应用样式', save_style: '保存为样式', style_name: '新样式的名称', no_styles: '（没有样式）',
  style_saved: '样式“{name}”已保存。', style_name_needed: '请先输入样式名称。',
  sampling: '采样', sampler: '采样方法', scheduler: '调度类型', steps: '迭代步数', cfg_scale: '提示词引导系数',
  tiling: '可平铺（无缝纹理）', subseed: '变异随机种子', subseed_strength: '变异强度',
  size_batch: '尺寸与批次', width: '宽度', height: '高度', batch_size: '单批数量', n_iter: '总批次数',
  seed_section: '随机种子', seed: '随机种子', seed_random: '随机', seed_random_label: '随机种子（-1）', seed_reuse: '复用', seed_reuse_label: '复用所选图像的随机种子',
  hires: '高清修复', enable_hr: '启用高清修复', hr_upscaler: '放大算法', hr_scale: '放大倍数', hr_steps: '高分迭代步数', hr_denoise: '高分重绘幅度',
  hr_resize_x: '将宽度调整为', hr_resize_y: '将高度调整为', hr_target: '结果：{w}x{h}',
  lora: 'LoRA', lora_weight: '权重', lora_add: '添加到提示词', lora_none: '（未安装）',
  controlnet: 'ControlNet', cn_enabled: '启用 ControlNet', cn_image: '控制图像', cn_module: '预处理器', cn_weight: '控制权重',
  cn_start: '引导介入时机', cn_end: '引导终止时机', cn_low: 'Canny 低阈值', cn_high: 'Canny 高阈值',
  cn_preview: '预览预处理结果', cn_map: 'ControlNet 预处理结果预览', cn_need_image: '请先为 ControlNet 选择控制图像。',
  user_settings: '设置（保存在你的账户中）', clip_skip: 'CLIP 终止层数', vae: 'SD VAE 模型', randn_source: '随机数生成器来源',
  ensd: 'Eta 噪声种子偏移（ENSD）', live_previews: '采样时显示实时预览', preview_every: '每 N 步显示一次实时预览',
  settings_saved: '已保存。', vae_unsupported: '本页面暂不能应用 VAE“{vae}”（原生 API 没有 VAE 字段）；请选择 Automatic，或通过 /sdapi/v1 的 sd_vae 使用。',
  img2img_image: '图生图的图像', init_preview: '图生图图像', denoising_strength: '重绘幅度', resize_mode: '缩放模式',
  resize_0: '仅调整大小', resize_1: '裁剪后缩放', resize_2: '缩放后填充空白', need_init: '请先为图生图选择图像。',
  inpaint_image: '要重绘的图像', inpaint_canvas: '蒙版：涂抹需要重绘的部分', brush_size: '笔刷大小', eraser: '橡皮擦',
  invert_mask: '反转蒙版', clear_mask: '清除蒙版', mask_blur: '蒙版边缘模糊度', mask_mode: '蒙版模式', mask_mode_0: '重绘蒙版内容',
  mask_mode_1: '重绘非蒙版内容', inpainting_fill: '蒙版区域内容处理', fill_0: '填充', fill_1: '原图', fill_2: '潜空间噪声', fill_3: '空白潜空间',
  inpaint_area: '重绘区域', area_whole: '整张图片', area_masked: '仅蒙版区域', inpaint_padding: '仅蒙版区域下边缘预留像素',
  need_inpaint_image: '请先选择要重绘的图像。', need_mask: '请先在图像上绘制蒙版（需要重绘的部分）。',
  gallery: '输出', progress: '生成进度', idle: '空闲', queued: '排队中', queued_pos: '排队中：第 {pos} 位',
  starting: '正在开始…', step: '第 {step} / {steps} 步', eta: '约剩 {s} 秒', done: '完成，用时 {s} 秒', canceled: '已中止',
  canceling: '正在中止…', failed: '失败：{error}', live_preview: '实时预览，第 {step} 步', result_alt: '结果 {n} / {count}：{prompt}',
  zoom: '放大查看', close: '关闭', download: '下载', copy_seed: '复制随机种子', seed_copied: '已复制随机种子 {seed}。', send_img2img: '发送到图生图',
  send_inpaint: '发送到局部重绘', send_txt2img: '发送到文生图', reuse_params: '复用参数', infotext: '生成参数',
  image_n: '图像 {n}', history: '历史记录', your_queue: '你的队列', queue_empty: '没有排队或运行中的任务。',
  history_empty: '还没有任务。', open: '打开', cancel: '取消', prev: '上一页', next: '下一页', page_of: '第 {page} / {pages} 页',
  status_queued: '排队中', status_running: '运行中', status_succeeded: '完成', status_failed: '失败', status_canceled: '已中止',
  empty_prompt: '（空提示词）',
  banner_unreachable: '无法连接到服务器。你的任务仍在队列中；页面会自动重新连接。',
  banner_not_ready: '服务尚未就绪：{reason}。', banner_no_worker: '当前没有在线的工作节点：任务将在队列中等待，直到有节点启动。',
  banner_warning: '注意：{warning}',
  err_unreachable: '无法连接到服务器。请检查网络后重试。', err_login: '请重新登录（会话未被接受）。',
  err_rate: '请求过于频繁；请在 {s} 秒后重试。', err_unavailable: '服务暂时不可用：{detail}。',
  err_status: '错误 {status}：{detail}', err_file: '无法读取该文件。',
  extras_image: '源图像', extras_upscaler: '放大算法', extras_scale: '缩放倍数', extras_run: '放大', extras_result: '放大后的图像',
  pnginfo_image: 'PNG 文件', pnginfo_drop: '将 PNG 拖到这里或选择文件', pnginfo_none: '此图像没有生成参数。',
  pnginfo_params: '参数', pnginfo_preview: '正在读取的图像',
  keyboard_hint: 'Ctrl+Enter：生成 · Esc：关闭放大',
};

export const LANGUAGES = { en, zh };
let current = 'en';

/** The language stored by the switch, else the browser's (any zh-* is Simplified Chinese here), else English. */
export function initialLanguage(stored, browserLanguages) {
  if (stored && stored in LANGUAGES) return stored;
  return (browserLanguages ?? []).some((l) => /^zh\b/i.test(l)) ? 'zh' : 'en';
}

export function language() { return current; }

export function t(key, values = {}) {
  const text = LANGUAGES[current][key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ''));
}

/** Sets the language and rewrites every marked element under `root`. */
export function applyLanguage(lang, root = document) {
  current = lang in LANGUAGES ? lang : 'en';
  document.documentElement.lang = current === 'zh' ? 'zh-CN' : 'en';
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll('[data-i18n-alt]')) el.alt = t(el.dataset.i18nAlt);
}
