#!/usr/bin/python3
"""Writes Rafiki dataset files from data that Debian and npm packages ship.

Called by deploy/datasets/convert (see there for the datasets and options).
Formats (sdk/model/README.md):
  IMAGE_CLASSIFICATION  zip: images.csv (path,class) + PNG or JPEG images
  TABULAR_*             CSV: header row of feature names, `target` last
  POS_TAGGING           zip: corpus.tsv (token<TAB>tag rows; a row whose
                        token is the two characters \\n ends a sentence)
Needs only Debian's python3 modules: numpy, PIL (python3-pil), sklearn.
"""
import argparse
import csv
import gzip
import io
import os
import random
import struct
import sys
import zipfile

SEED = 0
FASHION_DIR = '/usr/share/datasets/fashion-mnist'
# scikit-learn's two sample photographs (python3-sklearn): JPEG, 640x427, RGB.
PHOTOS_DIR = '/usr/lib/python3/dist-packages/sklearn/datasets/images'
PHOTOS = ('china.jpg', 'flower.jpg')  # class 0, class 1
# Images per split of `photos` (before --limit).
PHOTOS_COUNTS = {'train': 400, 'val': 100, 'test': 100}
PHOTO_TILE = 80  # pixels: splits are made of whole tiles
TABULAR = {
    # name: (sklearn loader, task)
    'iris': ('load_iris', 'TABULAR_CLASSIFICATION'),
    'wine': ('load_wine', 'TABULAR_CLASSIFICATION'),
    'breast-cancer': ('load_breast_cancer', 'TABULAR_CLASSIFICATION'),
    'digits': ('load_digits', 'TABULAR_CLASSIFICATION'),
    'diabetes': ('load_diabetes', 'TABULAR_REGRESSION'),
}
# Brown tag suffixes that mark where a word stands (title, headline, cited
# word), not its part of speech: dropped, so `nn-tl` is tagged `nn`.
BROWN_SUFFIXES = ('-tl', '-hl', '-nc')


def fail(message):
    print('convert: ' + message, file=sys.stderr)
    sys.exit(1)


def limited(items, limit):
    return items[:limit] if limit else items


def atomic_path(path):
    """The temporary name a file is written under before it is renamed."""
    return path + '.part'


def read_idx(path, magic):
    """Reads a gzipped IDX file (MNIST's format) into a numpy array."""
    import numpy
    with gzip.open(path, 'rb') as f:
        data = f.read()
    (got,) = struct.unpack('>I', data[:4])
    if got != magic:
        fail(f'{path}: not an IDX file of the expected kind (magic {got})')
    ndim = data[3]
    dims = struct.unpack('>' + 'I' * ndim, data[4:4 + 4 * ndim])
    array = numpy.frombuffer(data, dtype=numpy.uint8, offset=4 + 4 * ndim)
    return array.reshape(dims)


def write_images_zip(path, images, labels):
    from PIL import Image
    part = atomic_path(path)
    with zipfile.ZipFile(part, 'w') as z:
        rows = io.StringIO()
        writer = csv.writer(rows, lineterminator='\n')
        writer.writerow(['path', 'class'])
        for i, (image, label) in enumerate(zip(images, labels)):
            name = f'images/{i:05d}.png'
            png = io.BytesIO()
            Image.fromarray(image, mode='L').save(png, format='PNG')
            # PNGs are compressed already: store them.
            z.writestr(zipfile.ZipInfo(name, date_time=(2018, 1, 1, 0, 0, 0)), png.getvalue(),
                       compress_type=zipfile.ZIP_STORED)
            writer.writerow([name, int(label)])
        z.writestr(zipfile.ZipInfo('images.csv', date_time=(2018, 1, 1, 0, 0, 0)),
                   rows.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
    os.replace(part, path)
    print(f'{path}: {len(labels)} images, classes {sorted(set(int(x) for x in labels))}')


def convert_fashion_mnist(out, limit):
    files = {k: os.path.join(FASHION_DIR, f'{k}.gz') for k in
             ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
              't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')}
    for path in files.values():
        if not os.path.exists(path):
            fail(f'{path} is missing: install the Debian package dataset-fashion-mnist')
    train_x = read_idx(files['train-images-idx3-ubyte'], 2051)
    train_y = read_idx(files['train-labels-idx1-ubyte'], 2049)
    test_x = read_idx(files['t10k-images-idx3-ubyte'], 2051)
    test_y = read_idx(files['t10k-labels-idx1-ubyte'], 2049)
    # The train set is shuffled already: its first 50k train, the last 10k
    # validate.
    splits = {
        'train': (train_x[:50000], train_y[:50000]),
        'val': (train_x[50000:], train_y[50000:]),
        'test': (test_x, test_y),
    }
    for split, (x, y) in splits.items():
        write_images_zip(os.path.join(out, f'fashion-mnist-{split}.zip'),
                         limited(x, limit), limited(y, limit))


def photo_crop(rng, photo, tile):
    """One example cut from photo inside tile (left, top, right, bottom): a
    random crop of 32 px to the tile's size, scaled to 24..96 px a side,
    sometimes turned grey; returns the PIL image."""
    from PIL import Image
    left, top, right, bottom = tile
    w = rng.randint(32, right - left)
    h = max(32, min(bottom - top, int(w * rng.uniform(0.75, 1.33))))
    x = left + rng.randint(0, right - left - w)
    y = top + rng.randint(0, bottom - top - h)
    crop = photo.crop((x, y, x + w, y + h))
    crop = crop.resize((rng.randint(24, 96), rng.randint(24, 96)), Image.BILINEAR)
    return crop.convert('L') if rng.random() < 0.15 else crop


def photo_tiles(photo, split):
    """The 80x80 tiles of photo that belong to split: a diagonal pattern
    over the grid gives train 3 of every 5 tiles, val and test 1 each, all
    over the photo, so no pixel is in two splits."""
    index = {'train': (0, 1, 2), 'val': (3,), 'test': (4,)}[split]
    return [(c * PHOTO_TILE, r * PHOTO_TILE, (c + 1) * PHOTO_TILE, (r + 1) * PHOTO_TILE)
            for r in range(photo.height // PHOTO_TILE) for c in range(photo.width // PHOTO_TILE)
            if (c + 2 * r) % 5 in index]


def convert_photos(out, limit):
    """Crops of scikit-learn's two sample photos: class 0 china.jpg (a
    temple), class 1 flower.jpg. Each split cuts from its own tiles of each
    photo (photo_tiles). Mostly JPEGs of mixed sizes and qualities, 15%
    grey, 10% stored as PNG: image data as people have it."""
    from PIL import Image
    photos = []
    for name in PHOTOS:
        path = os.path.join(PHOTOS_DIR, name)
        if not os.path.exists(path):
            fail(f'{path} is missing: install the Debian package python3-sklearn')
        photos.append(Image.open(path).convert('RGB'))
    rng = random.Random(SEED)
    for split in ('train', 'val', 'test'):
        count = limited(list(range(PHOTOS_COUNTS[split])), limit)
        path = os.path.join(out, f'photos-{split}.zip')
        part = atomic_path(path)
        rows = io.StringIO()
        writer = csv.writer(rows, lineterminator='\n')
        writer.writerow(['path', 'class'])
        with zipfile.ZipFile(part, 'w') as z:
            for i in range(len(count)):
                label = i % len(photos)
                photo = photos[label]
                image = photo_crop(rng, photo, rng.choice(photo_tiles(photo, split)))
                data = io.BytesIO()
                if rng.random() < 0.1:
                    name = f'images/{i:05d}.png'
                    image.save(data, format='PNG')
                else:
                    name = f'images/{i:05d}.jpg'
                    image.save(data, format='JPEG', quality=rng.randint(60, 95))
                z.writestr(zipfile.ZipInfo(name, date_time=(2018, 1, 1, 0, 0, 0)),
                           data.getvalue(), compress_type=zipfile.ZIP_STORED)
                writer.writerow([name, label])
            z.writestr(zipfile.ZipInfo('images.csv', date_time=(2018, 1, 1, 0, 0, 0)),
                       rows.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
        os.replace(part, path)
        print(f'{path}: {len(count)} images (JPEG and PNG, 24..96 px a side), classes [0, 1]')


def split_indices(n, fractions):
    """Shuffles 0..n-1 with the fixed seed and cuts it by fractions."""
    order = list(range(n))
    random.Random(SEED).shuffle(order)
    cuts, start = [], 0
    for i, fraction in enumerate(fractions):
        end = n if i == len(fractions) - 1 else start + round(n * fraction)
        cuts.append(order[start:end])
        start = end
    return cuts


def number(value):
    """A value as CSV text: whole numbers without a fraction."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def convert_tabular(name, out, limit):
    from sklearn import datasets
    loader, task = TABULAR[name]
    bunch = getattr(datasets, loader)()
    x, y = bunch.data, bunch.target
    names = [str(f) for f in bunch.feature_names]
    if 'target' in names:
        fail(f'{name}: a feature is called target')
    for split, rows in zip(('train', 'val', 'test'), split_indices(len(y), (0.7, 0.15, 0.15))):
        rows = limited(rows, limit)
        path = os.path.join(out, f'{name}-{split}.csv')
        part = atomic_path(path)
        with open(part, 'w', newline='') as f:
            writer = csv.writer(f, lineterminator='\n')
            writer.writerow(names + ['target'])
            for r in rows:
                writer.writerow([number(v) for v in x[r]] + [number(y[r])])
        os.replace(part, path)
        what = (f'classes {sorted(set(int(y[r]) for r in rows))}'
                if task == 'TABULAR_CLASSIFICATION' else 'regression')
        print(f'{path}: {len(rows)} rows, {len(names)} features, {task}, {what}')


def brown_tag(tag):
    for suffix in BROWN_SUFFIXES:
        while suffix in tag:
            tag = tag.replace(suffix, '')
    return tag


def read_brown_file(path):
    """The sentences of one Brown file: lists of (token, tag)."""
    sentences = []
    with open(path, encoding='utf-8', errors='replace') as f:
        for number_, line in enumerate(f, 1):
            words = line.split()
            if not words:
                continue
            sentence = []
            for word in words:
                token, slash, tag = word.rpartition('/')
                if not slash or not token or not tag:
                    fail(f'{path} line {number_}: "{word}" is not token/tag')
                sentence.append((token, brown_tag(tag)))
            sentences.append(sentence)
    return sentences


def convert_brown(out, limit, brown_dir):
    with open(os.path.join(brown_dir, 'cats.txt')) as f:
        files = sorted(line.split()[0] for line in f if line.strip())
    if not files:
        fail(f'{brown_dir}/cats.txt lists no files')
    random.Random(SEED).shuffle(files)
    n = len(files)
    parts = {'train': files[:round(n * 0.8)], 'val': files[round(n * 0.8):round(n * 0.9)],
             'test': files[round(n * 0.9):]}
    for split, names in parts.items():
        path = os.path.join(out, f'brown-{split}.zip')
        rows = io.StringIO()
        writer = csv.writer(rows, dialect='excel-tab', lineterminator='\n')
        writer.writerow(['token', 'tag'])
        count = tokens = 0
        for name in names:
            for sentence in read_brown_file(os.path.join(brown_dir, name)):
                if limit and count >= limit:
                    break
                writer.writerows(sentence)
                writer.writerow(['\\n', ''])
                count += 1
                tokens += len(sentence)
        part = atomic_path(path)
        with zipfile.ZipFile(part, 'w', zipfile.ZIP_DEFLATED) as z:
            z.writestr(zipfile.ZipInfo('corpus.tsv', date_time=(2018, 1, 1, 0, 0, 0)),
                       rows.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
        os.replace(part, path)
        print(f'{path}: {count} sentences, {tokens} tokens')


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('name', choices=['fashion-mnist', 'photos', 'brown'] + sorted(TABULAR))
    parser.add_argument('out')
    parser.add_argument('--limit', type=int, default=0)
    parser.add_argument('--brown-dir')
    args = parser.parse_args()
    if args.limit < 0:
        fail('--limit wants a whole number')
    os.makedirs(args.out, exist_ok=True)
    if args.name == 'fashion-mnist':
        convert_fashion_mnist(args.out, args.limit)
    elif args.name == 'photos':
        convert_photos(args.out, args.limit)
    elif args.name == 'brown':
        if not args.brown_dir:
            fail('brown needs --brown-dir (deploy/datasets/convert finds it)')
        convert_brown(args.out, args.limit, args.brown_dir)
    else:
        convert_tabular(args.name, args.out, args.limit)


if __name__ == '__main__':
    main()
