/**
 * The second process of the conformance suite runs plain Node, so it needs JavaScript: this
 * transpiles the backends and the modules they import (no type check, nothing else of src/)
 * into a scratch folder inside node_modules, where their own imports (better-sqlite3, cacache)
 * resolve as usual.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'

const root = resolve(import.meta.dirname, '../..')

export interface Build {
  /** Folder holding `backends/sqlite.js`, `backends/file.js`, … */
  dir: string
  cleanup(): void
}

export function buildBackends(entries: readonly string[] = ['src/backends/sqlite.ts', 'src/backends/file.ts', 'src/backends/memcached.ts']): Build {
  const dir = join(root, 'node_modules', '.cache', `fetchcache-conformance-${process.pid}-${Date.now()}`)
  const queue = entries.map((e) => join(root, e))
  const done = new Set<string>()
  while (queue.length > 0) {
    const file = queue.pop()!
    if (done.has(file)) continue
    done.add(file)
    const source = readFileSync(file, 'utf8')
    for (const imported of ts.preProcessFile(source, true, true).importedFiles) {
      if (imported.fileName.startsWith('.')) queue.push(resolve(dirname(file), imported.fileName.replace(/\.js$/, '.ts')))
    }
    const { outputText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    })
    const out = join(dir, relative(join(root, 'src'), file)).replace(/\.ts$/, '.js')
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, outputText)
  }
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n')
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}
